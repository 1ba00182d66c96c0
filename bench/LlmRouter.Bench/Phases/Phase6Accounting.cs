using LlmRouter.Bench.Load;
using LlmRouter.Bench.Report;
using LlmRouter.Bench.Services;

namespace LlmRouter.Bench.Phases;

/// <summary>
/// Phase 6: what each request costs the shared services at load. Postgres statements per request from
/// pg_stat_statements (and transactions from the server's counters); Redis round trips per request as the router's
/// client counts them (GET /metrics), cross-checked with the scripts Redis ran (a script is one round trip, whatever
/// it does inside), and the CPU time Redis spent per request: Redis is one thread that every replica shares, so this
/// is what bounds the rate of a whole fleet.
/// </summary>
internal static class Phase6Accounting
{
    public const string RoundTripsMetric = "llmrouter_redis_round_trips_total";
    private static readonly TimeSpan Length = TimeSpan.FromSeconds(5);

    public static async Task RunAsync(BenchEnvironment env, double routerMaxRate, int repeats, BenchReport report, Action<string> log)
    {
        var path = env.Path(BenchPath.Router);
        var rate = Math.Clamp(Math.Round(routerMaxRate / 2 / 100) * 100, 200, 20_000);
        var statementsPer = new List<double>();
        var transactionsPer = new List<double>();
        var roundTripsPer = new List<double>();
        var scriptsPer = new List<double>();
        var redisCpuPer = new List<double>();
        for (var rep = 0; rep < repeats; rep++)
        {
            await env.Postgres.ResetStatementsAsync();
            var transactions = await env.Postgres.TransactionsAsync();
            var roundTrips = await env.Router.MetricAsync(RoundTripsMetric);
            var scripts = await env.Redis.ScriptCallsAsync();
            var redisCpu = await env.Redis.CpuTimeAsync();
            var result = await OpenLoopLoad.RunAsync(path.Static, path.StaticRequest, rate, Length, TimeSpan.Zero, Phase4Throughput.Connections);
            // Usage rows and last-used times are written in batches about once a second: let the last batch land.
            await Task.Delay(2500);
            var requests = (double)result.Measured;
            // Each bench query is itself one transaction on the server's counters.
            statementsPer.Add(await env.Postgres.StatementsAsync() / requests);
            transactionsPer.Add((await env.Postgres.TransactionsAsync() - transactions - 2) / requests);
            if (roundTrips is { } before && await env.Router.MetricAsync(RoundTripsMetric) is { } after) roundTripsPer.Add((after - before) / requests);
            scriptsPer.Add((await env.Redis.ScriptCallsAsync() - scripts) / requests);
            redisCpuPer.Add((await env.Redis.CpuTimeAsync() - redisCpu).TotalMicroseconds / requests);
            log($"  run {rep + 1}: {requests:0} requests at {rate:0} rps (p99 {Format.Micros(result.P99)}): Postgres {statementsPer[^1]:0.0000} statements and " +
                $"{transactionsPer[^1]:0.0000} transactions per request; Redis {(roundTripsPer.Count > rep ? roundTripsPer[^1].ToString("0.000", System.Globalization.CultureInfo.InvariantCulture) : "?")} round trips " +
                $"({scriptsPer[^1]:0.000} scripts, {redisCpuPer[^1]:0} µs of Redis CPU) per request");
        }
        var statements = Repeated.Of(statementsPer);
        var trips = Repeated.Of(roundTripsPer);
        report.Rows.Add(new Row("6 accounting", $"Postgres statements per request (at {rate:#,0} rps)", "", "", Format.Spread(statements, v => Format.Number(v, "0.0000")),
            "≤ 0.05", statements.Median <= 0.05));
        report.Rows.Add(new Row("6 accounting", "Redis round trips per request (router's client count)", "", "",
            roundTripsPer.Count == 0 ? "no /metrics" : Format.Spread(trips, v => Format.Number(v, "0.00")), "≤ 2", roundTripsPer.Count > 0 && trips.Median <= 2));
        report.Rows.Add(new Row("6 accounting", "Redis scripts run per request (server's count, cross-check)", "", "",
            Format.Spread(Repeated.Of(scriptsPer), v => Format.Number(v, "0.00")), "", null));
        report.Rows.Add(new Row("6 accounting", "Redis CPU per request (server's own time; one thread for every replica)", "", "",
            Format.Spread(Repeated.Of(redisCpuPer), v => Format.Number(v, "0") + " µs"), "", null));
        report.Raw["phase6"] = new
        {
            rate, statements_per_request = statementsPer, transactions_per_request = transactionsPer, redis_round_trips_per_request = roundTripsPer,
            redis_scripts_per_request = scriptsPer, redis_cpu_micros_per_request = redisCpuPer,
        };
    }
}
