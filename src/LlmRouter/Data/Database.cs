using LlmRouter.Configuration;
using Npgsql;

namespace LlmRouter.Data;

/// <summary>
/// The PostgreSQL data source built from <c>general_settings.database_url</c>; null when none is configured
/// (the router then runs with the master key only). One pool per process, bounded, so several replicas
/// cannot exhaust the server's connections.
/// </summary>
internal sealed class Database : IAsyncDisposable
{
    public const int MaxPoolSize = 10;

    public Database(GeneralSettings settings)
    {
        if (settings.DatabaseUrl is { } url) Source = NpgsqlDataSource.Create(ToConnectionString(url));
    }

    public NpgsqlDataSource? Source { get; }
    public bool IsConfigured => Source is not null;

    /// <summary><c>postgresql://user:pass@host:port/db?sslmode=…</c> (LiteLLM's form) or an Npgsql connection string.</summary>
    /// <exception cref="FormatException">The URL cannot be used; the message never repeats the password.</exception>
    internal static string ToConnectionString(string url)
    {
        var builder = new NpgsqlConnectionStringBuilder();
        if (url.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) || url.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Host.Length == 0)
                throw new FormatException("not a valid URL; expected postgresql://user:password@host:port/database");
            builder.Host = uri.Host;
            builder.Port = uri.Port > 0 ? uri.Port : 5432;
            builder.Database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
            if (uri.UserInfo.Length > 0)
            {
                var parts = uri.UserInfo.Split(':', 2);
                builder.Username = Uri.UnescapeDataString(parts[0]);
                if (parts.Length == 2) builder.Password = Uri.UnescapeDataString(parts[1]);
            }
            foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var kv = pair.Split('=', 2);
                if (kv[0].Equals("sslmode", StringComparison.OrdinalIgnoreCase) && kv.Length == 2) builder.SslMode = SslModeOf(Uri.UnescapeDataString(kv[1]));
            }
        }
        else
        {
            try
            {
                builder.ConnectionString = url;
            }
            catch (ArgumentException)
            {
                throw new FormatException("not a postgresql:// URL, and not a connection string (Host=...;Database=...)");
            }
        }
        builder.MaxPoolSize = Math.Min(builder.MaxPoolSize, MaxPoolSize);
        // Fail fast when the database is down: requests must not wait on it.
        if (builder.Timeout > 5) builder.Timeout = 5;
        return builder.ConnectionString;
    }

    /// <summary>libpq's names (<c>verify-full</c>, <c>verify-ca</c>, <c>require</c>, ...) as Npgsql's.</summary>
    private static SslMode SslModeOf(string name) =>
        Enum.TryParse<SslMode>(name.Replace("-", "", StringComparison.Ordinal), ignoreCase: true, out var mode) && Enum.IsDefined(mode)
            ? mode
            : throw new FormatException($"sslmode '{name}' is not one of disable, allow, prefer, require, verify-ca, verify-full");

    public async ValueTask DisposeAsync()
    {
        if (Source is not null) await Source.DisposeAsync();
    }
}
