using LlmRouter.Health;
using LlmRouter.Usage;

namespace LlmRouter.Data;

/// <summary>
/// Postgres in readiness. Down, the router still serves (cached keys work, usage spills to disk), so it reports
/// degraded rather than unready; the probe is one bounded <c>SELECT 1</c>.
/// </summary>
internal sealed class PostgresReadiness(Database database, DatabaseState state, UsageWriter usage) : IReadinessContributor
{
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(1);

    public string Name => "postgres";

    public async ValueTask<ReadinessComponent> CheckAsync(CancellationToken cancellationToken)
    {
        if (database.Source is not { } source)
            return new ReadinessComponent(true, "disabled", "no general_settings.database_url: master key only, usage not recorded");
        var stats = usage.Stats;
        var details = new Dictionary<string, string>
        {
            ["schema"] = state.Status.ToString().ToLowerInvariant(),
            ["usage_rows_written"] = stats.Written.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["usage_rows_spilled"] = stats.Spilled.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["usage_backlog_on_disk"] = usage.Spill.HasBacklog ? "yes" : "no",
            ["usage_crash_journal"] = usage.JournalPath is null ? "off" : "on",
            ["usage_rows_recovered"] = stats.Recovered.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["usage_rows_unjournaled"] = stats.Unjournaled.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ProbeTimeout);
        try
        {
            await using var command = source.CreateCommand("SELECT 1");
            await command.ExecuteScalarAsync(timeout.Token);
            return new ReadinessComponent(true, state.IsReady ? "connected" : "migrating", null, details);
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or OperationCanceledException or TimeoutException)
        {
            return new ReadinessComponent(true, "degraded", "Postgres unreachable: cached keys keep working, usage spills to disk", details);
        }
    }
}
