using LlmRouter.Keys;

namespace LlmRouter.Tests.Keys;

/// <summary>Postgres down: cached keys keep working, uncached ones are "unavailable" (503), never "invalid" (401).</summary>
public sealed class KeyCacheOutageTests(PostgresFixture fixture) : IClassFixture<PostgresFixture>
{
    [Fact]
    public async Task PostgresDown_CachedKeyStillValid_UncachedKeyUnavailable_AndValidOnceItIsBack()
    {
        var url = await fixture.CreateDatabaseAsync();
        await using var replica = await KeysReplica.StartAsync(url, null);
        var cached = await replica.Store.MintAsync(new KeyChanges(), CancellationToken.None);
        var uncached = await replica.Store.MintAsync(new KeyChanges(), CancellationToken.None);
        Assert.Equal(KeyLookupStatus.Valid, await replica.StatusAsync(cached.Secret));

        await fixture.Postgres.StopAsync();
        try
        {
            // The cache answers without Postgres: this is the proof that a hit needs no database.
            for (var i = 0; i < 100; i++) Assert.Equal(KeyLookupStatus.Valid, await replica.StatusAsync(cached.Secret));
            Assert.Equal(KeyLookupStatus.Unavailable, await replica.StatusAsync(uncached.Secret));
            Assert.Equal(KeyLookupStatus.Unavailable, await replica.StatusAsync(KeySecret.Generate()));
            // A string that cannot be a key is still rejected outright.
            Assert.Equal(KeyLookupStatus.Invalid, await replica.StatusAsync("sk-not-a-key"));
            // The periodic re-check fails quietly and keeps the cache as it is.
            await Assert.ThrowsAnyAsync<Exception>(() => replica.Cache.RecheckAllAsync(CancellationToken.None));
            Assert.Equal(KeyLookupStatus.Valid, await replica.StatusAsync(cached.Secret));
        }
        finally
        {
            await fixture.Postgres.StartAgainAsync();
        }

        await KeysTestSupport.WaitUntilAsync(async () => await replica.StatusAsync(uncached.Secret) == KeyLookupStatus.Valid,
            TimeSpan.FromSeconds(30), "uncached key valid after Postgres returned");
    }

    [Fact]
    public async Task PostgresDownAtStartUp_KeyEndpointsAnswer503_ThenWorkOnceMigrationsRan()
    {
        var url = await fixture.CreateDatabaseAsync();
        await fixture.Postgres.StopAsync();
        KeysHttpHost? host = null;
        try
        {
            host = await KeysHttpHost.StartAsync(url, waitForSchema: false);
            var response = await host.Client.PostAsync("/admin/keys", null);
            Assert.Equal(503, (int)response.StatusCode);
            Assert.Equal("5", response.Headers.RetryAfter?.Delta?.TotalSeconds.ToString());
            Assert.Contains("database_unavailable", await response.Content.ReadAsStringAsync());
            // A virtual key cannot be checked yet: 503, not 401.
            var (status, _) = await host.ClientWith(KeySecret.Generate()).GetJsonAsync("/admin/keys");
            Assert.Equal(503, status);
        }
        finally
        {
            await fixture.Postgres.StartAgainAsync();
        }
        await using (host)
        {
            await KeysTestSupport.WaitUntilAsync(async () => (await host.Client.PostJsonAsync("/admin/keys")).Status == 201,
                TimeSpan.FromSeconds(60), "mint works once migrations ran in the background");
        }
    }
}
