using LlmRouter.LiveState;
using StackExchange.Redis;

namespace LlmRouter.Keys;

/// <summary>
/// Keeps <see cref="KeyCache"/> in step with Postgres: subscribes to <c>llmr:keys</c>, and re-checks every cached key
/// after each Redis reconnect (messages sent meanwhile are lost) and every <see cref="KeyCacheOptions.RecheckInterval"/>.
/// </summary>
internal sealed partial class KeyCacheSync(
    KeyCache cache, KeyEvents events, RedisConnection redis, KeyCacheOptions options, TimeProvider time, ILogger<KeyCacheSync> logger) : BackgroundService
{
    private readonly SemaphoreSlim _resync = new(1, 1);
    /// <summary>The connection (<see cref="RedisConnection.Connects"/>) the last completed resync was for; only touched under <see cref="_resync"/>.</summary>
    private int _resynced;
    private readonly TaskCompletionSource _subscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Action<RedisChannel, RedisValue> _handler = events.OnMessage;
    private CancellationToken _stopping;

    /// <summary>
    /// Completes once this replica first listens on <c>llmr:keys</c> and has re-checked its cache after that (readiness
    /// for tests and health checks): from then on, a change reaches it by message.
    /// </summary>
    public Task Subscribed => _subscribed.Task;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _stopping = stoppingToken;
        if (redis.IsConfigured)
        {
            redis.Reconnected += OnReconnected;
            try
            {
                await redis.StartAsync();
            }
            catch (Exception e) when (e is RedisException or ArgumentException)
            {
                // A broken redis_url must not stop the router: keys then sync through the periodic re-check only.
                Log.NoRedis(logger, e.Message);
            }
            // The first connect may have happened before we listened.
            if (redis.IsConnected) await ResyncAsync();
        }
        using var timer = new PeriodicTimer(options.RecheckInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken)) await RecheckAsync("periodic");
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            redis.Reconnected -= OnReconnected;
        }
    }

    private void OnReconnected() => _ = ResyncAsync();

    /// <summary>
    /// Subscribe first, then re-check: a change committed before the re-check's read is seen by it, any later one
    /// arrives as a message. In between, this replica's own changes from the outage go out to the others.
    /// </summary>
    private async Task ResyncAsync()
    {
        try
        {
            await _resync.WaitAsync(_stopping);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        try
        {
            // The first connect can be reported twice (the event, and the check at start-up): one resync per connection.
            var connection = redis.Connects;
            if (connection == _resynced) return;
            var delay = TimeSpan.FromMilliseconds(200);
            while (!_stopping.IsCancellationRequested)
            {
                try
                {
                    var subscriber = redis.Subscriber!;
                    // Unsubscribe-then-subscribe keeps exactly one handler, whether or not the client restored the old subscription.
                    await subscriber.UnsubscribeAsync(KeyEvents.Channel, _handler);
                    await subscriber.SubscribeAsync(KeyEvents.Channel, _handler);
                    break;
                }
                catch (Exception e) when (e is RedisException or TimeoutException)
                {
                    await Task.Delay(delay, time, _stopping);
                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
                }
            }
            await events.PublishPendingAsync();
            await RecheckAsync("Redis reconnected");
            _resynced = connection;
            _subscribed.TrySetResult();
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            _resync.Release();
        }
    }

    private async Task RecheckAsync(string reason)
    {
        try
        {
            var count = await cache.RecheckAllAsync(_stopping);
            if (count > 0) Log.Rechecked(logger, count, reason);
        }
        catch (Exception e) when (!_stopping.IsCancellationRequested)
        {
            // Never let a background re-check stop the host; unreachable Postgres is the usual reason.
            Log.RecheckFailed(logger, reason, e.Message);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Re-checked {Count} cached keys against Postgres ({Reason})")]
        public static partial void Rechecked(ILogger logger, int count, string reason);

        [LoggerMessage(3, LogLevel.Error, "Redis could not be set up ({Reason}); key changes reach other replicas only through the periodic re-check")]
        public static partial void NoRedis(ILogger logger, string reason);

        [LoggerMessage(2, LogLevel.Warning, "Re-check of cached keys ({Reason}) failed: {Error}; cached keys stay as they are")]
        public static partial void RecheckFailed(ILogger logger, string reason, string error);
    }
}
