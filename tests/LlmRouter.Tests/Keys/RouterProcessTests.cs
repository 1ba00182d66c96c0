using System.Net.Http.Headers;
using LlmRouter.Tests.Services;
using LlmRouter.Tests.Infrastructure;
using Npgsql;

namespace LlmRouter.Tests.Keys;

/// <summary>The real router process: --migrate-only, and what reaches its log.</summary>
public sealed class RouterProcessTests(PostgresFixture fixture) : IClassFixture<PostgresFixture>
{
    [Fact]
    public async Task MigrateOnly_TwoProcessesAtOnce_BothExit0AndEachFileIsAppliedOnce()
    {
        var url = await fixture.CreateDatabaseAsync();
        var config = WriteConfig(KeysTestSupport.ConfigYaml(url, null));

        var runs = await Task.WhenAll(
            RouterProcess.RunAsync(config, ["--migrate-only"], TimeSpan.FromSeconds(60)),
            RouterProcess.RunAsync(config, ["--migrate-only"], TimeSpan.FromSeconds(60)));

        Assert.All(runs, r => Assert.True(r.ExitCode == 0, $"exit {r.ExitCode}: {r.StdErr}{r.StdOut}"));
        Assert.Single(runs, r => r.StdOut.Contains("applied 0001_keys.sql"));
        await using var source = NpgsqlDataSource.Create(PostgresFixture.ConnectionStringOf(url));
        await using var command = source.CreateCommand("SELECT count(*) FROM schema_migrations WHERE version = 1");
        Assert.Equal(1L, (long)(await command.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task MigrateOnly_DatabaseUnreachable_Exits1WithOneClearLine()
    {
        var closedPort = RedisServer.FreeTcpPort();
        var config = WriteConfig(KeysTestSupport.ConfigYaml($"postgresql://postgres@127.0.0.1:{closedPort}/nowhere", null));

        var run = await RouterProcess.RunAsync(config, ["--migrate-only"], TimeSpan.FromSeconds(60));

        Assert.Equal(1, run.ExitCode);
        var lines = run.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("error: --migrate-only:", lines[0]);
    }

    [Fact]
    public async Task SecretInQueryOrPath_NeverReachesTheLog_EvenWithEveryLogLevelTurnedUp()
    {
        var url = await fixture.CreateDatabaseAsync();
        var config = WriteConfig(KeysTestSupport.ConfigYaml(url, null));
        // Everything a config file or environment could do to make the framework print request URLs.
        var environment = new Dictionary<string, string>
        {
            ["Logging__LogLevel__Default"] = "Trace",
            ["Logging__LogLevel__Microsoft.AspNetCore"] = "Trace",
            ["Logging__LogLevel__Microsoft.AspNetCore.Hosting.Diagnostics"] = "Trace",
            ["Logging__Console__LogLevel__Default"] = "Trace",
            ["Logging__Console__LogLevel__Microsoft.AspNetCore.Hosting.Diagnostics"] = "Information",
        };
        await using var router = await RouterProcess.StartAsync(config, environment);
        using var client = new HttpClient { BaseAddress = router.Address };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", KeysTestSupport.MasterKey);
        await KeysTestSupport.WaitUntilAsync(async () => (await client.GetAsync("/admin/keys")).IsSuccessStatusCode, TimeSpan.FromSeconds(60), "schema ready");

        var (status, minted) = await client.PostJsonAsync("/admin/keys", new { alias = "log-test" });
        Assert.Equal(201, status);
        var secret = minted.GetProperty("key").GetString()!;
        var info = await client.GetAsync($"/key/info?key={secret}");
        var regenerated = await client.PostAsync($"/key/{secret}/regenerate", null);
        await router.StopAsync();

        Assert.Equal(200, (int)info.StatusCode);
        Assert.Equal(200, (int)regenerated.StatusCode);
        var output = router.Output;
        // The router's own request log ran at Debug and wrote the redacted form: the capture works and the redaction too.
        Assert.Contains("GET /key/info?key=[redacted] -> 200", output);
        Assert.Contains("POST /key/[redacted]/regenerate -> 200", output);
        Assert.DoesNotContain(secret[3..], output);
    }

    private static string WriteConfig(string yaml)
    {
        var path = TestTemp.NewPath("config") + ".yaml";
        File.WriteAllText(path, yaml);
        return path;
    }
}
