using System.Diagnostics;
using LlmRouter.Keys;
using Npgsql;
using Xunit.Abstractions;

namespace LlmRouter.Tests.Keys;

/// <summary>The cache on one replica: what it answers, and how rarely it asks Postgres.</summary>
public sealed class KeyCacheTests(PostgresFixture fixture, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    [Fact]
    public async Task ConcurrentMisses_ForOneSecret_CostOneDatabaseLookup()
    {
        var url = await fixture.CreateDatabaseAsync();
        await using var replica = await KeysReplica.StartAsync(url, null);
        var issued = await replica.Store.MintAsync(new KeyChanges(), CancellationToken.None);
        await using var stats = await StatementStats.StartAsync(url);

        var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => Task.Run(async () => await replica.StatusAsync(issued.Secret))));
        for (var i = 0; i < 100; i++) Assert.Equal(KeyLookupStatus.Valid, await replica.StatusAsync(issued.Secret));

        Assert.All(results, r => Assert.Equal(KeyLookupStatus.Valid, r));
        Assert.Equal(1, await stats.LookupsAsync());
    }

    [Fact]
    public async Task UnknownSecret_IsRememberedBriefly_AndForgottenWhenAKeyIsMinted()
    {
        var url = await fixture.CreateDatabaseAsync();
        await using var replica = await KeysReplica.StartAsync(url, null);
        var unknown = KeySecret.Generate();
        await using var stats = await StatementStats.StartAsync(url);

        Assert.Equal(KeyLookupStatus.Invalid, await replica.StatusAsync(unknown));
        Assert.Equal(KeyLookupStatus.Invalid, await replica.StatusAsync(unknown));
        Assert.Equal(1, await stats.LookupsAsync());
        Assert.Equal(1, replica.Cache.Count);

        await replica.Store.MintAsync(new KeyChanges(), CancellationToken.None);

        Assert.Equal(0, replica.Cache.Count);
        // Past the negative TTL the database is asked again.
        Assert.Equal(KeyLookupStatus.Invalid, await replica.StatusAsync(unknown, DateTimeOffset.UtcNow + TimeSpan.FromMinutes(1)));
        Assert.Equal(2, await stats.LookupsAsync());
    }

    [Fact]
    public async Task MalformedSecrets_AreInvalid_WithoutAskingTheDatabase()
    {
        var url = await fixture.CreateDatabaseAsync();
        await using var replica = await KeysReplica.StartAsync(url, null);
        await using var stats = await StatementStats.StartAsync(url);

        foreach (var bogus in new[] { "", "sk-", "sk-short", "Bearer x", "sk-" + new string('a', 43) + "!", KeySecret.Generate() + "x", "pk-" + KeySecret.Generate()[3..] })
            Assert.Equal(KeyLookupStatus.Invalid, await replica.StatusAsync(bogus));

        Assert.Equal(0, await stats.LookupsAsync());
    }

    [Fact]
    public async Task Rotation_OldSecretValidDuringGrace_InvalidAfter_NewSecretValid()
    {
        var url = await fixture.CreateDatabaseAsync();
        await using var replica = await KeysReplica.StartAsync(url, null);
        var issued = await replica.Store.MintAsync(new KeyChanges(), CancellationToken.None);
        Assert.Equal(KeyLookupStatus.Valid, await replica.StatusAsync(issued.Secret));

        var rotated = await replica.Store.RotateAsync(issued.Row.Id, TimeSpan.FromMinutes(10), null, CancellationToken.None);
        var now = DateTimeOffset.UtcNow;

        Assert.Equal(KeyLookupStatus.Valid, await replica.StatusAsync(issued.Secret, now));
        Assert.Equal(KeyLookupStatus.Invalid, await replica.StatusAsync(issued.Secret, now + TimeSpan.FromMinutes(11)));
        Assert.Equal(KeyLookupStatus.Valid, await replica.StatusAsync(rotated.Secret, now + TimeSpan.FromMinutes(11)));
        Assert.Equal(issued.Row.Id, (await replica.AuthenticateAsync(rotated.Secret)).Key!.Id);

        // Zero grace: the secret that was current a moment ago stops at once.
        var again = await replica.Store.RotateAsync(issued.Row.Id, TimeSpan.Zero, null, CancellationToken.None);
        Assert.Equal(KeyLookupStatus.Invalid, await replica.StatusAsync(rotated.Secret));
        Assert.Equal(KeyLookupStatus.Valid, await replica.StatusAsync(again.Secret));
    }

    [Fact]
    public async Task ExpiredBlockedAndRevokedKeys_AreInvalid()
    {
        var url = await fixture.CreateDatabaseAsync();
        await using var replica = await KeysReplica.StartAsync(url, null);
        var expiring = await replica.Store.MintAsync(new KeyChanges { ExpiresAt = DateTimeOffset.UtcNow.AddHours(1) }, CancellationToken.None);
        var blocked = await replica.Store.MintAsync(new KeyChanges(), CancellationToken.None);
        var revoked = await replica.Store.MintAsync(new KeyChanges(), CancellationToken.None);
        Assert.Equal(KeyLookupStatus.Valid, await replica.StatusAsync(expiring.Secret));
        Assert.Equal(KeyLookupStatus.Valid, await replica.StatusAsync(blocked.Secret));
        Assert.Equal(KeyLookupStatus.Valid, await replica.StatusAsync(revoked.Secret));

        await replica.Store.UpdateAsync(blocked.Row.Id, new KeyChanges { Blocked = true }, CancellationToken.None);
        await replica.Store.RevokeAsync([revoked.Row.Id], CancellationToken.None);

        Assert.Equal(KeyLookupStatus.Invalid, await replica.StatusAsync(expiring.Secret, DateTimeOffset.UtcNow.AddHours(2)));
        Assert.Equal(KeyLookupStatus.Invalid, await replica.StatusAsync(blocked.Secret));
        Assert.Equal(KeyLookupStatus.Invalid, await replica.StatusAsync(revoked.Secret));

        // The replica that made a change applies the committed row at once, so an unblock needs no wait either.
        await replica.Store.UpdateAsync(blocked.Row.Id, new KeyChanges { Blocked = false }, CancellationToken.None);
        Assert.Equal(KeyLookupStatus.Valid, await replica.StatusAsync(blocked.Secret));
    }

    [Fact]
    public async Task CacheHit_AllocatesNothing_AndIsCheap()
    {
        var url = await fixture.CreateDatabaseAsync();
        await using var replica = await KeysReplica.StartAsync(url, null);
        var issued = await replica.Store.MintAsync(new KeyChanges { Models = new(true, ["chat"]) }, CancellationToken.None);
        var now = DateTimeOffset.UtcNow;
        for (var i = 0; i < 20_000; i++) await replica.Cache.AuthenticateAsync(issued.Secret, now, CancellationToken.None);

        const int Iterations = 500_000;
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        // Process CPU time too: on a loaded machine wall time mostly measures waiting for a core.
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var valid = 0;
        for (var i = 0; i < Iterations; i++)
        {
            // A hit completes synchronously, so awaiting it costs no allocation and no thread hop.
            var lookup = await replica.Cache.AuthenticateAsync(issued.Secret, now, CancellationToken.None);
            if (lookup.Status == KeyLookupStatus.Valid) valid++;
        }
        clock.Stop();
        var cpuNs = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalNanoseconds / Iterations;
        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;

        var perCallNs = clock.Elapsed.TotalNanoseconds / Iterations;
        var hashClock = Stopwatch.StartNew();
        for (var i = 0; i < Iterations; i++) SecretHash.Of(issued.Secret);
        var hashNs = hashClock.Elapsed.TotalNanoseconds / Iterations;
        output.WriteLine($"cache hit: {perCallNs:F0} ns wall ({cpuNs:F0} ns process CPU) per call, of which SHA-256 of the secret {hashNs:F0} ns; {allocated} bytes allocated in {Iterations} calls");
        Assert.Equal(Iterations, valid);
        Assert.True(allocated < 1024, $"{allocated} bytes allocated over {Iterations} cache hits");
        Assert.True(perCallNs < 100_000, $"{perCallNs:F0} ns per cache hit");
    }

    /// <summary>Counts the cache's lookups by secret hash through pg_stat_statements (the test cluster preloads it).</summary>
    private sealed class StatementStats : IAsyncDisposable
    {
        private readonly NpgsqlDataSource _source;

        private StatementStats(NpgsqlDataSource source) => _source = source;

        public static async Task<StatementStats> StartAsync(string url)
        {
            var stats = new StatementStats(NpgsqlDataSource.Create(PostgresFixture.ConnectionStringOf(url)));
            await stats.ExecuteAsync("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
            await stats.ExecuteAsync("SELECT pg_stat_statements_reset()");
            return stats;
        }

        public async Task<long> LookupsAsync()
        {
            await using var command = _source.CreateCommand("""
                SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements
                WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                  AND query ILIKE 'SELECT%FROM api_key_secrets%WHERE%hash =%'
                """);
            return (long)(await command.ExecuteScalarAsync())!;
        }

        private async Task ExecuteAsync(string sql)
        {
            await using var command = _source.CreateCommand(sql);
            await command.ExecuteNonQueryAsync();
        }

        public ValueTask DisposeAsync() => _source.DisposeAsync();
    }
}
