using System.Diagnostics;

namespace LlmRouter.Tests.Services;

/// <summary>
/// A private PostgreSQL 15 cluster in a throwaway directory on a free loopback port, run as the postgres user
/// (it refuses root). Tests stop and start it to prove the router survives a database outage.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private const string BinDir = "/usr/lib/postgresql/15/bin";
    private readonly string _dataDir;
    private readonly string _instance = Guid.NewGuid().ToString("N")[..12];

    private PostgresServer(int port, string dataDir)
    {
        Port = port;
        _dataDir = dataDir;
    }

    public int Port { get; }
    public string Database => "llmrouter";

    /// <summary>
    /// A connection string for the router and for direct checks (trust auth on loopback). Npgsql pools connections by
    /// connection string, and a later cluster can get this one's port: the application name, unique to this cluster,
    /// keeps that cluster from being handed this one's dead connections (CI saw a 57P01 from one).
    /// </summary>
    public string ConnectionString =>
        $"Host=127.0.0.1;Port={Port};Username=postgres;Database={Database};Application Name=llmrouter-tests-{_instance};Pooling=true;Timeout=5;Command Timeout=10";

    /// <summary>The URL form the router's config takes (<c>database_url</c>).</summary>
    public string Url => $"postgresql://postgres@127.0.0.1:{Port}/{Database}";

    public static async Task<PostgresServer> StartAsync()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "llmrouter-pg-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dataDir);
        await RunAsync("chown", "postgres:postgres", dataDir);
        await RunAsPostgresAsync($"{BinDir}/initdb", "-D", dataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync");
        var server = new PostgresServer(RedisServer.FreeTcpPort(), dataDir);
        await server.StartAgainAsync();
        await RunAsPostgresAsync($"{BinDir}/createdb", "-h", "127.0.0.1", "-p", server.Port.ToString(), "-U", "postgres", server.Database);
        return server;
    }

    public async Task StartAgainAsync()
    {
        await RunAsPostgresAsync($"{BinDir}/pg_ctl", "-D", _dataDir, "-w", "-t", "60", "-l", Path.Combine(_dataDir, "server.log"),
            "-o", $"-p {Port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_preload_libraries=pg_stat_statements",
            "start");
        await RedisServer.WaitForPortAsync(Port, open: true, TimeSpan.FromSeconds(30));
    }

    /// <summary>Fast shutdown: open connections are cut, as in an outage.</summary>
    public async Task StopAsync()
    {
        if (!Directory.Exists(_dataDir) || !File.Exists(Path.Combine(_dataDir, "postmaster.pid"))) return;
        await RunAsPostgresAsync($"{BinDir}/pg_ctl", "-D", _dataDir, "-w", "-t", "60", "-m", "fast", "stop");
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        finally
        {
            try { Directory.Delete(_dataDir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static Task RunAsPostgresAsync(string program, params string[] args) =>
        Environment.UserName == "postgres" ? RunAsync(program, args) : RunAsync("runuser", ["-u", "postgres", "--", program, .. args]);

    private static async Task RunAsync(string program, params string[] args)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/tmp" };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{program} did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} exited {process.ExitCode}: {await stderr}{await stdout}");
    }
}
