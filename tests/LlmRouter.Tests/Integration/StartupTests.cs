using System.Net;
using LlmRouter.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LlmRouter.Tests.Integration;

/// <summary>Where the config comes from, and the refusal to serve unauthenticated beyond loopback.</summary>
public sealed class StartupTests(ITestOutputHelper output)
{
    private const string Yaml = """
        model_list:
          - model_name: from-env-config
            litellm_params: { model: ollama_chat/llama3.1:8b, api_base: http://127.0.0.1:9 }
        """;

    [Fact]
    public async Task Startup_ConfigPathInLlmRouterConfig_IsUsed()
    {
        await using var router = await RouterProcess.StartAsync(Yaml, new RouterLaunch { ConfigInEnvironment = true });
        output.WriteLine(router.Output.ToString());

        using var response = await router.Http.GetAsync("v1/models");

        var ids = (await response.ReadJsonAsync())["data"]!.AsArray().Select(m => m!["id"]!.GetValue<string>());
        Assert.Equal(["from-env-config"], ids);
    }

    [Theory]
    [InlineData("0.0.0.0")]
    [InlineData("*")]
    public async Task Startup_NonLoopbackWithoutMasterKey_Refuses(string host)
    {
        using var config = new TempFile("exposed.yaml", Yaml);
        await using var router = RouterProcess.StartExpectingFailure(config.Path, new RouterLaunch { ListenHost = host });

        var exitCode = await router.WaitForExitAsync(TimeSpan.FromSeconds(30));
        output.WriteLine(router.Output.ToString());

        Assert.True(exitCode is not null, "The router started on a non-loopback address without a master key.");
        Assert.NotEqual(0, exitCode);
        Assert.Contains(router.Output.Lines(), l => l.Contains("master_key", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Startup_PortAlreadyInUse_ExitsWithOneClearError()
    {
        using var holder = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var port = ((IPEndPoint)holder.LocalEndpoint).Port;
        using var config = new TempFile("busy.yaml", Yaml);
        await using var router = RouterProcess.StartExpectingFailure(config.Path, port);

        var exitCode = await router.WaitForExitAsync(TimeSpan.FromSeconds(30));
        output.WriteLine(router.Output.ToString());

        Assert.Equal(1, exitCode);
        var lines = router.Output.Lines();
        Assert.Contains(lines, l => l.StartsWith("[err] error: ", StringComparison.Ordinal) && l.Contains($"127.0.0.1:{port}", StringComparison.Ordinal)
                                    && l.Contains("address already in use", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains("Unhandled exception", StringComparison.Ordinal));
        // One clear line, not the host's log of the failure with its stack trace.
        Assert.DoesNotContain(lines, l => l.Contains("Hosting failed to start", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Startup_AddressNotOnThisMachine_ExitsWithOneClearError()
    {
        // 192.0.2.0/24 is reserved for documentation: no machine has it.
        using var config = new TempFile("elsewhere.yaml", Yaml + "\ngeneral_settings:\n  master_key: sk-exposed\n");
        await using var router = RouterProcess.StartExpectingFailure(config.Path, new RouterLaunch { ListenHost = "192.0.2.1" });

        var exitCode = await router.WaitForExitAsync(TimeSpan.FromSeconds(30));
        output.WriteLine(router.Output.ToString());

        Assert.Equal(1, exitCode);
        var lines = router.Output.Lines();
        Assert.Contains(lines, l => l.StartsWith("[err] error: cannot listen on http://192.0.2.1:", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Startup_NonLoopbackWithAllowUnauthenticated_Serves()
    {
        var yaml = Yaml + "\ngeneral_settings:\n  allow_unauthenticated: true\n";

        await using var router = await RouterProcess.StartAsync(yaml, new RouterLaunch { ListenHost = "0.0.0.0" });
        output.WriteLine(router.Output.ToString());

        using var response = await router.Http.GetAsync("v1/models");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Startup_NonLoopbackWithMasterKey_ServesWithKey()
    {
        var yaml = Yaml + "\ngeneral_settings:\n  master_key: sk-exposed\n";

        await using var router = await RouterProcess.StartAsync(yaml, new RouterLaunch { ListenHost = "0.0.0.0" });
        output.WriteLine(router.Output.ToString());

        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/models");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "sk-exposed");
        using var response = await router.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
