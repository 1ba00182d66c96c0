using LlmRouter.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace LlmRouter.Data;

/// <summary><c>--migrate-only</c>: apply the migrations and exit 0, or print one line and exit 1 (for deploy jobs and init containers).</summary>
internal static class MigrateCommand
{
    public const string Flag = "--migrate-only";

    /// <summary>Takes the flag out of the arguments (the configuration parser would want a value after it).</summary>
    public static bool IsRequested(ref string[] args)
    {
        if (!args.Contains(Flag)) return false;
        args = [.. args.Where(a => a != Flag)];
        return true;
    }

    public static async Task<int> RunAsync(GeneralSettings settings, ILoggerFactory? loggerFactory = null, string? directory = null)
    {
        if (settings.DatabaseUrl is null)
        {
            Console.Error.WriteLine("error: --migrate-only: no database is configured (general_settings.database_url)");
            return 1;
        }
        await using var database = new Database(settings);
        var runner = new MigrationRunner((loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<MigrationRunner>());
        try
        {
            var applied = await runner.ApplyAsync(database.Source!, directory ?? MigrationRunner.DefaultDirectory, CancellationToken.None);
            Console.WriteLine(applied.Count == 0
                ? "migrations: schema is current"
                : $"migrations: applied {string.Join(", ", applied.Select(f => f.FileName))}");
            return 0;
        }
        catch (Exception e) when (e is MigrationException or Npgsql.NpgsqlException or TimeoutException or IOException)
        {
            Console.Error.WriteLine($"error: --migrate-only: {FirstLine(e.Message)}");
            return 1;
        }
    }

    private static string FirstLine(string message)
    {
        var newline = message.IndexOfAny(['\r', '\n']);
        return newline < 0 ? message : message[..newline];
    }
}
