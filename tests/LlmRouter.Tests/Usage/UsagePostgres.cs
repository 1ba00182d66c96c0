using LlmRouter.Tests.Services;
using Npgsql;

namespace LlmRouter.Tests.Usage;

/// <summary>
/// One private PostgreSQL cluster per test class; each test gets its own database with the migrations applied
/// in order, as the router's migration runner would apply them.
/// </summary>
public sealed class UsagePostgres : IAsyncLifetime
{
    private PostgresServer? _server;

    public PostgresServer Server => _server ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync() => _server = await PostgresServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
    }

    /// <summary>A fresh database; <paramref name="include"/> picks migration files by name (default: all).</summary>
    public async Task<string> CreateDatabaseAsync(Func<string, bool>? include = null)
    {
        var name = "usage_" + Guid.NewGuid().ToString("N")[..12];
        await using (var admin = new NpgsqlConnection(Server.ConnectionString))
        {
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", admin);
            await create.ExecuteNonQueryAsync();
        }
        var connectionString = new NpgsqlConnectionStringBuilder(Server.ConnectionString) { Database = name }.ConnectionString;
        await ApplyMigrationsAsync(connectionString, include);
        return connectionString;
    }

    public static async Task ApplyMigrationsAsync(string connectionString, Func<string, bool>? include = null)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        foreach (var file in Directory.GetFiles(MigrationsDirectory(), "*.sql").Order(StringComparer.Ordinal))
        {
            if (include is not null && !include(Path.GetFileName(file))) continue;
            await using var command = new NpgsqlCommand(await File.ReadAllTextAsync(file), connection);
            await command.ExecuteNonQueryAsync();
        }
    }

    private static string MigrationsDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "migrations");
            if (File.Exists(Path.Combine(dir.FullName, "LlmRouter.sln")) && Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException("migrations/ not found above " + AppContext.BaseDirectory);
    }
}
