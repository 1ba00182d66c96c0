using LlmRouter.Configuration;

namespace LlmRouter.LiveState;

/// <summary>
/// Keeps this replica's leases alive (a third of the lease TTL apart), so a crashed replica's counts vanish within
/// one TTL while a live one's never do. Also notices when Redis has lost its state (restart without persistence):
/// the epoch key is gone, so live leases are re-added (key counters re-seed themselves from recorded usage). And counts
/// the replicas sharing Redis, whose number splits a key's limits among them while Redis is away.
/// </summary>
internal sealed partial class LeaseHeartbeat(RedisLiveState state, RedisConnection redis, RouterSettings settings, TimeProvider time,
    ILogger<LeaseHeartbeat> logger) : BackgroundService
{
    private readonly SemaphoreSlim _listening = new(1, 1);
    private Action<StackExchange.Redis.RedisChannel, StackExchange.Redis.RedisValue>? _onStateLost;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = settings.LeaseTtl / 3;
        // Made once, before anything can subscribe it: one handler, however often it is subscribed again.
        _onStateLost = (_, _) => _ = HeardOfLossAsync();
        redis.Reconnected += () => _ = Task.Run(async () =>
        {
            try
            {
                await ListenAsync();
            }
            finally
            {
                await BeatAsync(CancellationToken.None);
            }
        });
        await ListenAsync();
        using var timer = new PeriodicTimer(interval, time);
        do
        {
            await BeatAsync(stoppingToken);
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>
    /// A replica that noticed Redis lose its state says so, and every other one then looks at once. Subscribed again
    /// after each reconnect; when that fails, this replica hears nothing until the next one, and its heartbeat still
    /// looks every beat.
    /// </summary>
    private async Task ListenAsync()
    {
        if (redis.Subscriber is not { } subscriber || _onStateLost is not { } handler) return;
        await _listening.WaitAsync();
        try
        {
            await subscriber.UnsubscribeAsync(RedisLiveState.StateLostChannel, handler).WaitAsync(redis.CallTimeout);
        }
        catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException)
        {
        }
        try
        {
            await subscriber.SubscribeAsync(RedisLiveState.StateLostChannel, handler).WaitAsync(redis.CallTimeout);
        }
        catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException)
        {
        }
        finally
        {
            _listening.Release();
        }
    }

    /// <summary>Looks for itself (what follows a loss happens once, in <see cref="RedisLiveState.CheckEpochAsync"/>).</summary>
    private async Task HeardOfLossAsync()
    {
        try
        {
            await state.CheckEpochAsync();
        }
        catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException)
        {
            // The heartbeat tries again.
        }
        catch (Exception e)
        {
            Log.Failed(logger, e);
        }
    }

    public async Task BeatAsync(CancellationToken cancellationToken)
    {
        try
        {
            // Key counters rebuild themselves: their seeded markers went with the rest, so each key re-seeds from Postgres on next use.
            // A loss's lease re-add that failed is owed: the renew makes it.
            await state.CheckEpochAsync();
            await state.RenewAsync(time.GetUtcNow(), settings.LeaseTtl, rebuild: false);
            await state.CountReplicasAsync(time.GetUtcNow(), settings.LeaseTtl);
        }
        catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException)
        {
            // Redis is away; RedisConnection has said so once. Local leases were renewed before the Redis call.
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            Log.Failed(logger, e);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(21, LogLevel.Error, "Lease heartbeat failed")]
        public static partial void Failed(ILogger logger, Exception exception);
    }
}
