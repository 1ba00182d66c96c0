using LlmRouter.Keys;
using Xunit.Abstractions;

namespace LlmRouter.Tests.Keys;

/// <summary>Two replicas sharing Postgres and Redis: a change made on one reaches the other's cache within a second.</summary>
public sealed class KeyPropagationTests(PostgresRedisFixture fixture, ITestOutputHelper output) : IClassFixture<PostgresRedisFixture>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task Revoke_OnOneReplica_InvalidOnTheOtherWithinOneSecond()
    {
        var (a, b) = await StartPairAsync();
        await using var _ = a;
        await using var __ = b;
        var issued = await a.Store.MintAsync(new KeyChanges(), CancellationToken.None);
        Assert.Equal(KeyLookupStatus.Valid, await b.StatusAsync(issued.Secret));

        var started = System.Diagnostics.Stopwatch.StartNew();
        await a.Store.RevokeAsync([issued.Row.Id], CancellationToken.None);
        var committed = started.Elapsed;
        var seen = await KeysTestSupport.WaitUntilAsync(async () => await b.StatusAsync(issued.Secret) == KeyLookupStatus.Invalid, Deadline,
            "revocation seen by the other replica");

        output.WriteLine($"revocation: commit + publish {committed.TotalMilliseconds:F1} ms, seen by the other replica {seen.TotalMilliseconds:F1} ms after that; {(committed + seen).TotalMilliseconds:F1} ms from the revoke call");
        Assert.Equal(KeyLookupStatus.Invalid, await a.StatusAsync(issued.Secret));
    }

    [Fact]
    public async Task BlockRotateAndUpdate_OnOneReplica_ReachTheOtherWithinOneSecond()
    {
        var (a, b) = await StartPairAsync();
        await using var _ = a;
        await using var __ = b;
        var blocked = await a.Store.MintAsync(new KeyChanges(), CancellationToken.None);
        var rotated = await a.Store.MintAsync(new KeyChanges(), CancellationToken.None);
        var updated = await a.Store.MintAsync(new KeyChanges(), CancellationToken.None);
        foreach (var key in new[] { blocked, rotated, updated }) Assert.Equal(KeyLookupStatus.Valid, await b.StatusAsync(key.Secret));

        await a.Store.UpdateAsync(blocked.Row.Id, new KeyChanges { Blocked = true }, CancellationToken.None);
        var blockSeen = await KeysTestSupport.WaitUntilAsync(async () => await b.StatusAsync(blocked.Secret) == KeyLookupStatus.Invalid, Deadline, "block");

        var next = await a.Store.RotateAsync(rotated.Row.Id, TimeSpan.Zero, null, CancellationToken.None);
        var rotateSeen = await KeysTestSupport.WaitUntilAsync(async () => await b.StatusAsync(rotated.Secret) == KeyLookupStatus.Invalid, Deadline, "rotation");
        Assert.Equal(KeyLookupStatus.Valid, await b.StatusAsync(next.Secret));

        await a.Store.UpdateAsync(updated.Row.Id, new KeyChanges { Models = new(true, ["code"]), RpmLimit = 7 }, CancellationToken.None);
        var updateSeen = await KeysTestSupport.WaitUntilAsync(async () => (await b.AuthenticateAsync(updated.Secret)).Key is { RpmLimit: 7 } key && !key.MayUse("chat"),
            Deadline, "update");

        output.WriteLine($"seen by the other replica after the call returned: block {blockSeen.TotalMilliseconds:F1} ms, rotation {rotateSeen.TotalMilliseconds:F1} ms, update {updateSeen.TotalMilliseconds:F1} ms");
    }

    private async Task<(KeysReplica A, KeysReplica B)> StartPairAsync()
    {
        var url = await fixture.CreateDatabaseAsync();
        var a = await KeysReplica.StartAsync(url, fixture.Redis.Url);
        var b = await KeysReplica.StartAsync(url, fixture.Redis.Url);
        return (a, b);
    }
}
