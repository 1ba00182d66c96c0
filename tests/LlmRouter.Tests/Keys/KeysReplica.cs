using LlmRouter.Data;
using LlmRouter.Hosting;
using LlmRouter.Keys;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace LlmRouter.Tests.Keys;

/// <summary>
/// One "replica" of the router's key machinery in a generic host: its own cache, store, Redis connection and
/// background services, sharing Postgres and Redis with any other replica a test starts.
/// </summary>
internal sealed class KeysReplica : IAsyncDisposable
{
    private readonly IHost _host;

    private KeysReplica(IHost host) => _host = host;

    public IServiceProvider Services => _host.Services;
    public KeyCache Cache => Services.GetRequiredService<KeyCache>();
    public KeyStore Store => Services.GetRequiredService<KeyStore>();
    public DatabaseState Database => Services.GetRequiredService<DatabaseState>();
    public KeyCacheSync Sync => Services.GetServices<IHostedService>().OfType<KeyCacheSync>().Single();

    public static async Task<KeysReplica> StartAsync(string? databaseUrl, string? redisUrl, KeyCacheOptions? options = null, bool waitForSchema = true)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddLogging();
        builder.Services.AddLlmRouter(KeysTestSupport.Config(databaseUrl, redisUrl));
        if (options is not null) builder.Services.AddSingleton(options);
        builder.Services.AddKeys();
        var host = builder.Build();
        await host.StartAsync();
        var replica = new KeysReplica(host);
        if (waitForSchema && databaseUrl is not null) await replica.Database.WhenReady.WaitAsync(TimeSpan.FromSeconds(60));
        if (redisUrl is not null) await replica.Sync.Subscribed.WaitAsync(TimeSpan.FromSeconds(30));
        return replica;
    }

    public ValueTask<KeyLookup> AuthenticateAsync(string secret, DateTimeOffset? now = null) =>
        Cache.AuthenticateAsync(secret, now ?? DateTimeOffset.UtcNow, CancellationToken.None);

    public async Task<KeyLookupStatus> StatusAsync(string secret, DateTimeOffset? now = null) => (await AuthenticateAsync(secret, now)).Status;

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync(TimeSpan.FromSeconds(10));
        // The Redis connection and the data source are IAsyncDisposable only.
        await ((IAsyncDisposable)_host).DisposeAsync();
    }
}
