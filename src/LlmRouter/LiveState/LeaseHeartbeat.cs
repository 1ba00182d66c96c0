using LlmRouter.Configuration;

namespace LlmRouter.LiveState;

/// <summary>
/// Keeps this replica's leases alive (a third of the lease TTL apart), so a crashed replica's counts vanish within
/// one TTL while a live one's never do. Also notices when Redis has lost its state (restart without persistence):
/// the epoch key is gone, so live leases are re-added (key counters re-seed themselves from recorded usage).
/// </summary>
internal sealed partial class LeaseHeartbeat(RedisLiveState state, RedisConnection redis, RouterSettings settings, TimeProvider time,
    ILogger<LeaseHeartbeat> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = settings.LeaseTtl / 3;
        redis.Reconnected += () => _ = Task.Run(async () =>
        {
            await ListenAsync();
            await BeatAsync(CancellationToken.None);
        });
        await ListenAsync();
        using var timer = new PeriodicTimer(interval, time);
        do
        {
            await BeatAsync(stoppingToken);
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>A replica that noticed Redis lose its state says so; every other one then looks at once (one handler per connection).</summary>
    private async Task ListenAsync()
    {
        if (redis.Subscriber is not { } subscriber) return;
        try
        {
            await subscriber.UnsubscribeAsync(RedisLiveState.StateLostChannel, _onStateLost);
            await subscriber.SubscribeAsync(RedisLiveState.StateLostChannel, _onStateLost);
        }
        catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException)
        {
            // Redis is away; the reconnect listens again, and the heartbeat still looks every beat.
        }
    }

    private Action<StackExchange.Redis.RedisChannel, StackExchange.Redis.RedisValue>? _handler;

    private Action<StackExchange.Redis.RedisChannel, StackExchange.Redis.RedisValue> _onStateLost =>
        _handler ??= (_, _) => _ = BeatAsync(CancellationToken.None);

    public async Task BeatAsync(CancellationToken cancellationToken)
    {
        try
        {
            // Key counters rebuild themselves: their seeded markers went with the rest, so each key re-seeds from Postgres on next use.
            var rebuild = await state.CheckEpochAsync();
            await state.RenewAsync(time.GetUtcNow(), settings.LeaseTtl, rebuild);
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
