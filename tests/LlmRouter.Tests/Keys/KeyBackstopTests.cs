using LlmRouter.Keys;
using LlmRouter.LiveState;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace LlmRouter.Tests.Keys;

/// <summary>
/// A change made while Redis is down never reaches the other replica as a message; the re-check against Postgres,
/// periodic and after every reconnect, must still stop a revoked key there.
/// </summary>
public sealed class KeyBackstopTests(PostgresRedisFixture fixture, ITestOutputHelper output) : IClassFixture<PostgresRedisFixture>
{
    [Fact]
    public async Task RevokedWhileRedisDown_PeriodicRecheck_InvalidatesItOnTheOtherReplica()
    {
        var url = await fixture.CreateDatabaseAsync();
        await using var a = await KeysReplica.StartAsync(url, fixture.Redis.Url);
        await using var b = await KeysReplica.StartAsync(url, fixture.Redis.Url, new KeyCacheOptions { RecheckInterval = TimeSpan.FromSeconds(1) });
        var issued = await a.Store.MintAsync(new KeyChanges(), CancellationToken.None);
        Assert.Equal(KeyLookupStatus.Valid, await b.StatusAsync(issued.Secret));

        await fixture.Redis.StopAsync();
        try
        {
            await a.Store.RevokeAsync([issued.Row.Id], CancellationToken.None);
            var seen = await KeysTestSupport.WaitUntilAsync(async () => await b.StatusAsync(issued.Secret) == KeyLookupStatus.Invalid,
                TimeSpan.FromSeconds(10), "revocation seen through the periodic re-check");
            output.WriteLine($"periodic re-check (every 1 s in this test, 30 s by default) caught the revocation after {seen.TotalMilliseconds:F0} ms");
        }
        finally
        {
            await fixture.Redis.StartAgainAsync();
        }
    }

    [Fact]
    public async Task RevokedWhileRedisDown_RecheckAfterReconnect_InvalidatesItOnTheOtherReplica()
    {
        var url = await fixture.CreateDatabaseAsync();
        // The periodic re-check is effectively off, so only the reconnect can catch the change.
        var noPeriodic = new KeyCacheOptions { RecheckInterval = TimeSpan.FromHours(1) };
        await using var a = await KeysReplica.StartAsync(url, fixture.Redis.Url, noPeriodic);
        await using var b = await KeysReplica.StartAsync(url, fixture.Redis.Url, noPeriodic);
        var issued = await a.Store.MintAsync(new KeyChanges(), CancellationToken.None);
        Assert.Equal(KeyLookupStatus.Valid, await b.StatusAsync(issued.Secret));
        // b must hold the key in its cache before Redis goes. A lookup that a's mint message overtakes answers without
        // caching (it may be stale), and b's next lookup would then ask Postgres and see the revocation by itself.
        await KeysTestSupport.WaitUntilAsync(async () => await b.StatusAsync(issued.Secret) == KeyLookupStatus.Valid && b.Cache.Count == 1,
            TimeSpan.FromSeconds(10), "the new key cached on the other replica");

        await fixture.Redis.StopAsync();
        try
        {
            await a.Store.RevokeAsync([issued.Row.Id], CancellationToken.None);
            // The revoking replica knows at once; the other cannot, until Redis returns.
            Assert.Equal(KeyLookupStatus.Invalid, await a.StatusAsync(issued.Secret));
            Assert.Equal(KeyLookupStatus.Valid, await b.StatusAsync(issued.Secret));
        }
        finally
        {
            await fixture.Redis.StartAgainAsync();
        }
        var seen = await KeysTestSupport.WaitUntilAsync(async () => await b.StatusAsync(issued.Secret) == KeyLookupStatus.Invalid,
            TimeSpan.FromSeconds(30), "revocation seen after the Redis reconnect");
        output.WriteLine($"re-check after reconnect caught the revocation {seen.TotalMilliseconds:F0} ms after Redis restarted");

        // And messages flow again once both replicas are back on Redis (b re-subscribed before its re-check above).
        await KeysTestSupport.WaitUntilAsync(() => Task.FromResult(a.Services.GetRequiredService<RedisConnection>().IsConnected), TimeSpan.FromSeconds(30),
            "the revoking replica reconnected");
        var next = await a.Store.MintAsync(new KeyChanges(), CancellationToken.None);
        Assert.Equal(KeyLookupStatus.Valid, await b.StatusAsync(next.Secret));
        await a.Store.RevokeAsync([next.Row.Id], CancellationToken.None);
        await KeysTestSupport.WaitUntilAsync(async () => await b.StatusAsync(next.Secret) == KeyLookupStatus.Invalid, TimeSpan.FromSeconds(1),
            "revocation by message after the reconnect");
    }
}
