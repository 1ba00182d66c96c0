using System.Diagnostics;
using LlmRouter.Configuration;
using LlmRouter.Keys;
using LlmRouter.Tests.Services;
using Npgsql;

namespace LlmRouter.Tests.Keys;

/// <summary>Config, polling and per-test databases shared by the key tests.</summary>
internal static class KeysTestSupport
{
    public const string MasterKey = "sk-test-master-key";

    public static string ConfigYaml(string? databaseUrl, string? redisUrl, string? masterKey = MasterKey) => $"""
        model_list:
          - model_name: chat
            litellm_params: {"{"} model: ollama_chat/llama3.1:8b, api_base: http://127.0.0.1:9 {"}"}
          - model_name: code
            litellm_params: {"{"} model: ollama_chat/qwen2.5-coder:14b, api_base: http://127.0.0.1:9 {"}"}
        general_settings:
        {(masterKey is null ? "" : $"  master_key: {masterKey}")}
        {(databaseUrl is null ? "" : $"  database_url: {databaseUrl}")}
        {(redisUrl is null ? "" : $"  redis_url: {redisUrl}")}
        """;

    /// <summary>A lookup as the request filter makes it, hashing the secret here.</summary>
    public static ValueTask<KeyLookup> AuthenticateAsync(this KeyCache cache, string secret, DateTimeOffset now, CancellationToken cancellationToken) =>
        cache.AuthenticateAsync(secret, SecretHash.Of(secret), now, cancellationToken);

    public static RouterConfig Config(string? databaseUrl, string? redisUrl, string? masterKey = MasterKey) =>
        ConfigLoader.Parse(ConfigYaml(databaseUrl, redisUrl, masterKey), "test.yaml", _ => null, _ => { });

    /// <summary>Polls until <paramref name="condition"/> holds; returns how long it took, fails the test at the deadline.</summary>
    public static async Task<TimeSpan> WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (await condition()) return clock.Elapsed;
            if (clock.Elapsed > timeout) Assert.Fail($"{what}: not within {timeout.TotalSeconds:F1} s");
            await Task.Delay(2);
        }
    }
}

/// <summary>One PostgreSQL server per test class; each test takes a fresh database from it.</summary>
public class PostgresFixture : IAsyncLifetime
{
    public PostgresServer Postgres { get; private set; } = null!;

    public virtual async Task InitializeAsync() => Postgres = await PostgresServer.StartAsync();

    public virtual async Task DisposeAsync() => await Postgres.DisposeAsync();

    /// <summary>A new empty database; returns its URL in <c>database_url</c> form.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var name = "t_" + Guid.NewGuid().ToString("N")[..12];
        // Unpooled: a pooled connection would be dead after a test restarted the server.
        await using var connection = new NpgsqlConnection(Postgres.ConnectionString.Replace("Pooling=true", "Pooling=false"));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
        await command.ExecuteNonQueryAsync();
        return $"postgresql://postgres@127.0.0.1:{Postgres.Port}/{name}";
    }

    public static string ConnectionStringOf(string url) => LlmRouter.Data.Database.ToConnectionString(url);
}

/// <summary>PostgreSQL and Redis, one of each per test class.</summary>
public sealed class PostgresRedisFixture : PostgresFixture
{
    public RedisServer Redis { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Redis = await RedisServer.StartAsync();
    }

    public override async Task DisposeAsync()
    {
        await Redis.DisposeAsync();
        await base.DisposeAsync();
    }
}
