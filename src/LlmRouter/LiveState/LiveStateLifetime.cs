using LlmRouter.Completions;

namespace LlmRouter.LiveState;

/// <summary>
/// Connects to Redis at start (without waiting for it). At shutdown it waits in <see cref="StoppedAsync"/>, which runs
/// after the server has drained its requests, for the release of its spare admissions and for the requests' last
/// settles, so no lease is left behind in Redis, and takes the replica out of the replica set.
/// </summary>
internal sealed class LiveStateLifetime(RedisConnection redis, RedisLiveState state, PendingSettles pending) : IHostedLifecycleService
{
    /// <summary>A reachable Redis answers in milliseconds; an unreachable one must not hold up start-up (the connect goes on in the background).</summary>
    private static readonly TimeSpan ConnectWait = TimeSpan.FromSeconds(1);

    public async Task StartAsync(CancellationToken cancellationToken) =>
        await Task.WhenAny(redis.StartAsync(), Task.Delay(ConnectWait, cancellationToken));

    public Task StoppedAsync(CancellationToken cancellationToken) =>
        Task.WhenAll(state.ReleaseSparesAsync(), pending.DrainAsync(), state.LeaveReplicasAsync()).WaitAsync(TimeSpan.FromSeconds(5), cancellationToken);

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
