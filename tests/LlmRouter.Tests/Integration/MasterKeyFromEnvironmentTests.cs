using System.Net;
using LlmRouter.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LlmRouter.Tests.Integration;

/// <summary><c>master_key: os.environ/NAME</c> reads the variable; an unset variable means no key.</summary>
public sealed class MasterKeyFromEnvironmentTests(ITestOutputHelper output)
{
    private const string Variable = "LLMROUTER_TEST_MASTER_KEY";

    [Fact]
    public async Task MasterKey_FromSetVariable_IsEnforced()
    {
        await using var env = await StartAsync(new Dictionary<string, string> { [Variable] = "sk-from-env" });

        using var wrong = await SendAsync(env, "Bearer sk-nope");
        using var right = await SendAsync(env, "Bearer sk-from-env");

        await OpenAiErrorAssert.IsErrorAsync(wrong, HttpStatusCode.Unauthorized, code: "invalid_api_key");
        Assert.Equal(HttpStatusCode.OK, right.StatusCode);
    }

    [Fact]
    public async Task MasterKey_FromUnsetVariable_MeansNoKey()
    {
        await using var env = await StartAsync(environment: null);

        using var response = await SendAsync(env, authorization: null);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private async Task<RouterEnvironment> StartAsync(IReadOnlyDictionary<string, string>? environment)
    {
        var simulator = await SimulatorProcess.StartAsync(new SimulatorOptions());
        try
        {
            var yaml = new RouterConfig
            {
                Deployments = [new("chat", $"ollama_chat/{RouterEnvironment.ChatModel}", simulator.ApiBase)],
                MasterKey = $"os.environ/{Variable}",
            }.ToYaml();
            var router = await RouterProcess.StartAsync(yaml, environment);
            output.WriteLine($"router config:\n{yaml}");
            return RouterEnvironment.FromProcesses([simulator], router);
        }
        catch
        {
            await simulator.DisposeAsync();
            throw;
        }
    }

    private static async Task<HttpResponseMessage> SendAsync(RouterEnvironment env, string? authorization)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/models");
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        return await env.Router.Http.SendAsync(request);
    }
}
