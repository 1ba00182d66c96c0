using System.Globalization;

namespace LlmRouter.Bench.Services;

/// <summary>
/// A private PostgreSQL 15 cluster in a throwaway directory on a free loopback port, run as the postgres user (it
/// refuses root), with pg_stat_statements loaded so the bench can count what the router sends it.
/// </summary>
internal sealed class PostgresService : IAsyncDisposable
{
    private const string BinDir = "/usr/lib/postgresql/15/bin";
    private readonly string _dataDir;

    private PostgresService(int port, string dataDir)
    {
        Port = port;
        _dataDir = dataDir;
    }

    public int Port { get; }
    public const string Database = "llmrouter";
    public string Url => $"postgresql://postgres@127.0.0.1:{Port}/{Database}";

    public static async Task<PostgresService> StartAsync(string workDir)
    {
        var dataDir = Path.Combine(workDir, "pg");
        Directory.CreateDirectory(dataDir);
        if (Environment.UserName != "postgres") await BenchProcess.RunAsync("chown", "postgres:postgres", workDir, dataDir);
        await AsPostgresAsync($"{BinDir}/initdb", "-D", dataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync");
        var server = new PostgresService(BenchProcess.FreePort(), dataDir);
        await AsPostgresAsync($"{BinDir}/pg_ctl", "-D", dataDir, "-w", "-t", "60", "-l", Path.Combine(dataDir, "server.log"),
            "-o", $"-p {server.Port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all",
            "start");
        await AsPostgresAsync($"{BinDir}/createdb", "-h", "127.0.0.1", "-p", server.Port.ToString(CultureInfo.InvariantCulture), "-U", "postgres", Database);
        await server.QueryAsync("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
        return server;
    }

    /// <summary>Runs SQL through psql; returns unaligned, tuples-only output.</summary>
    public Task<string> QueryAsync(string sql) =>
        BenchProcess.RunAsync("psql", "-h", "127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture), "-U", "postgres", "-d", Database, "-X", "-A", "-t", "-c", sql);

    public async Task ResetStatementsAsync() => await QueryAsync("SELECT pg_stat_statements_reset()");

    /// <summary>Statements executed in the router's database since the last reset, leaving out the bench's own.</summary>
    public async Task<long> StatementsAsync()
    {
        var text = await QueryAsync(
            "SELECT coalesce(sum(calls),0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid " +
            $"WHERE d.datname = '{Database}' AND s.query NOT ILIKE '%pg_stat_statements%' AND s.query NOT ILIKE '%pg_stat_database%'");
        return long.Parse(text.Trim(), CultureInfo.InvariantCulture);
    }

    /// <summary>Transactions committed or rolled back in the router's database (the server's own counters).</summary>
    public async Task<long> TransactionsAsync()
    {
        var text = await QueryAsync($"SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '{Database}'");
        return long.Parse(text.Trim(), CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await AsPostgresAsync($"{BinDir}/pg_ctl", "-D", _dataDir, "-w", "-t", "30", "-m", "immediate", "stop");
        }
        catch (InvalidOperationException)
        {
        }
    }

    private static Task<string> AsPostgresAsync(string program, params string[] args) =>
        Environment.UserName == "postgres" ? BenchProcess.RunAsync(program, args) : BenchProcess.RunAsync("runuser", ["-u", "postgres", "--", program, .. args]);
}
