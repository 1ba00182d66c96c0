using System.Net.Sockets;
using LlmRouter.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Npgsql;

namespace LlmRouter.Keys.Storage;

/// <summary>
/// The one door to the key tables: pooled EF Core contexts over the shared <see cref="Database"/> data source, and the
/// single definition of "the database is unreachable" that every caller maps to 503 (never to 401).
/// </summary>
internal sealed class KeyDb
{
    private readonly PooledDbContextFactory<KeysDbContext>? _factory;

    public KeyDb(Database database, DatabaseState state)
    {
        State = state;
        if (database.Source is not { } source) return;
        var options = new DbContextOptionsBuilder<KeysDbContext>()
            .UseNpgsql(source)
            .UseQueryTrackingBehavior(QueryTrackingBehavior.NoTracking)
            // EF logs every command at Information; on a cache miss that is per request, so keep it at Debug.
            .ConfigureWarnings(w => w.Log((RelationalEventId.CommandExecuted, LogLevel.Debug)))
            .Options;
        _factory = new PooledDbContextFactory<KeysDbContext>(options);
    }

    public DatabaseState State { get; }
    public bool IsConfigured => _factory is not null;

    public KeysDbContext CreateContext() =>
        _factory?.CreateDbContext() ?? throw new InvalidOperationException("No database is configured (general_settings.database_url)");

    /// <summary>True for failures of reaching Postgres (down, restarting, timing out), as opposed to a bad request.</summary>
    public static bool IsUnavailable(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case PostgresException postgres:
                    return postgres.IsTransient;
                case NpgsqlException or TimeoutException or SocketException or IOException:
                    return true;
            }
        }
        return false;
    }

    public static bool IsUniqueViolation(Exception exception, string constraint)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation } postgres && postgres.ConstraintName == constraint) return true;
        }
        return false;
    }
}
