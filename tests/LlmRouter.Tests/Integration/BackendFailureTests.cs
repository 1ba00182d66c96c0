using System.Net;
using System.Text.Json.Nodes;
using LlmRouter.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LlmRouter.Tests.Integration;

/// <summary>
/// Upstream failures, each against its own single-backend router so no healthy backend can hide the fault:
/// before the first byte the client gets an error JSON; mid-stream it gets one <c>data: {"error":…}</c> frame
/// and the stream ends without <c>[DONE]</c>, never a fake clean end.
/// </summary>
public sealed class BackendFailureTests(ITestOutputHelper output) : IsolatedRouterTest(output)
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task BackendErrorBeforeFirstByte_Returns502BackendError(bool stream)
    {
        await Env.ConfigureSimulatorsAsync(new SimConfig { Fault = SimFault.ErrorBefore, FaultStatus = 500 });

        using var response = await SendChatAsync(stream);

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.BadGateway, code: "backend_error");
        Assert.True((await Env.GetTotalStatsAsync()).Faulted >= 1, "The simulator never injected the fault.");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task BackendSaysItLacksTheModel_Returns404ModelNotFound(bool stream)
    {
        // Ollama's own 404, from a backend whose last /api/tags still listed the model: what the client would have got
        // had the router known (wire reference §7.2.6), with Ollama's words.
        await Env.ConfigureSimulatorsAsync(new SimConfig
        {
            Fault = SimFault.ErrorBefore,
            FaultStatus = 404,
            FaultMessage = $"model '{RouterEnvironment.ChatModel}' not found",
        });

        using var response = await SendChatAsync(stream);

        var error = await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.NotFound, code: "model_not_found");
        Assert.Contains("not found", error["message"]!.GetValue<string>());
        // Asked once: the only deployment would only say it again.
        Assert.Equal(1, (await Env.GetTotalStatsAsync()).Faulted);
    }

    [Fact]
    public async Task BackendSaysItLacksTheModel_IsNoFailure_TheModelPulledAgainIsServedAtOnce()
    {
        await Env.ConfigureSimulatorsAsync(new SimConfig
        {
            Fault = SimFault.ErrorBefore,
            FaultStatus = 404,
            FaultMessage = $"model '{RouterEnvironment.ChatModel}' not found",
        });
        // More 404s than allowed_fails (3): were they failures, the only deployment would now cool down for 30 s.
        for (var i = 0; i < 4; i++)
        {
            using var missing = await SendChatAsync(stream: false);
            await OpenAiErrorAssert.IsErrorAsync(missing, HttpStatusCode.NotFound, code: "model_not_found");
        }

        await Env.ConfigureSimulatorsAsync(new SimConfig { Fault = SimFault.None });
        using var response = await SendChatAsync(stream: false);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task BackendRejectsTheRequest_Returns400WithOllamasReason_AndTriesNoFurther(bool stream)
    {
        // What Ollama answers to, say, reasoning_effort on a model that does not think: the client's request, not the backend.
        await Env.ConfigureSimulatorsAsync(new SimConfig
        {
            Fault = SimFault.ErrorBefore,
            FaultStatus = 400,
            FaultMessage = "\"llama3.1:8b\" does not support thinking",
        });

        using var response = await SendChatAsync(stream);

        var error = await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.BadRequest, type: "invalid_request_error");
        Assert.Contains("does not support thinking", error["message"]!.GetValue<string>());
        Assert.Equal(1, (await Env.GetTotalStatsAsync()).Faulted);
    }

    [Fact]
    public async Task BackendBusy_Returns503OverloadedWithRetryAfter()
    {
        await Env.ConfigureSimulatorsAsync(new SimConfig { Fault = SimFault.Busy });

        using var response = await SendChatAsync(stream: false);

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.ServiceUnavailable, code: "overloaded");
        Assert.NotNull(response.Headers.RetryAfter);
    }

    [Fact]
    public async Task OnlyDeploymentCoolingDown_Returns503AtOnce_WithRetryAfterTheCooldownLeft()
    {
        // Held for a whole cooldown, an Open WebUI user (no client timeout) would watch a spinner for 30 s per message.
        await using var env = await RouterEnvironment.StartSingleBackendAsync(
            new SimulatorOptions { Models = [RouterEnvironment.ChatModel], Fault = SimFault.ErrorBefore },
            config => config with { Router = new Dictionary<string, string> { ["allowed_fails"] = "1", ["cooldown_time"] = "30", ["num_retries"] = "0" } });
        using (var failed = await env.Router.Http.SendAsync(Requests.Post("v1/chat/completions", Requests.Chat("chat", "hello"))))
            await OpenAiErrorAssert.IsErrorAsync(failed, HttpStatusCode.BadGateway, code: "backend_error");
        var clock = System.Diagnostics.Stopwatch.StartNew();

        using var cooling = await env.Router.Http.SendAsync(Requests.Post("v1/chat/completions", Requests.Chat("chat", "hello")));

        await OpenAiErrorAssert.IsErrorAsync(cooling, HttpStatusCode.ServiceUnavailable, code: "overloaded");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"Answered after {clock.Elapsed.TotalSeconds:0.0} s, not at once.");
        Assert.InRange(cooling.Headers.RetryAfter?.Delta ?? TimeSpan.Zero, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task BackendBusy_IsNoFailure_TheDeploymentIsNotCooledDown()
    {
        // One deployment, and a cooldown after a single failure that would outlast the test: a busy answer (Ollama's
        // queue full) must not take the only deployment out.
        await using var env = await RouterEnvironment.StartSingleBackendAsync(customize: config => config with
        {
            Router = new Dictionary<string, string> { ["allowed_fails"] = "1", ["cooldown_time"] = "300", ["num_retries"] = "0" },
        });
        await env.ConfigureSimulatorsAsync(new SimConfig { Fault = SimFault.Busy });
        using (var busy = await env.Router.Http.SendAsync(Requests.Post("v1/chat/completions", Requests.Chat("chat", "hello"))))
            await OpenAiErrorAssert.IsErrorAsync(busy, HttpStatusCode.ServiceUnavailable, code: "overloaded");

        await env.ConfigureSimulatorsAsync(new SimConfig { Fault = SimFault.None });
        using var next = await env.Router.Http.SendAsync(Requests.Post("v1/chat/completions", Requests.Chat("chat", "hello")));

        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
    }

    [Theory]
    [InlineData(SimFault.ErrorMid)]
    [InlineData(SimFault.DropMid)]
    public async Task BackendFailsMidStream_SendsErrorFrameAndNoDone(string fault)
    {
        await Env.ConfigureSimulatorsAsync(new SimConfig { Fault = fault, FaultAfterTokens = 2, Tokens = 8 });

        using var response = await SendChatAsync(stream: true);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var sse = new SseReader(await response.Content.ReadAsStreamAsync());
        var events = await sse.ReadAllEventsAsync();
        Assert.DoesNotContain("[DONE]", events);
        Assert.True(events.Count >= 2, $"Expected content frames, then an error frame:\n{sse.Raw}");
        OpenAiErrorAssert.IsErrorJson(events[^1]);
        var content = events.SkipLast(1).Select(e => JsonNode.Parse(e)!).ToList();
        Assert.Contains(content, c => c["choices"]?.AsArray().Any(ch => ch!["delta"]?["content"]?.GetValue<string>() is { Length: > 0 }) == true);
        Assert.DoesNotContain(content, c => c["choices"]?.AsArray().Any(ch => ch!["finish_reason"] is JsonValue) == true);
        Assert.DoesNotContain(content, c => c["usage"] is JsonObject);
    }

    [Theory]
    [InlineData(SimFault.ErrorMid)]
    [InlineData(SimFault.DropMid)]
    public async Task BackendFailsMidGeneration_NonStreamed_Returns502(string fault)
    {
        await Env.ConfigureSimulatorsAsync(new SimConfig { Fault = fault, FaultAfterTokens = 2, Tokens = 8 });

        using var response = await SendChatAsync(stream: false);

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.BadGateway, code: "backend_error");
    }

    [Fact]
    public async Task BackendDropsConnectionBeforeAnswering_Returns502()
    {
        await Env.ConfigureSimulatorsAsync(new SimConfig { Fault = SimFault.Drop });

        using var response = await SendChatAsync(stream: true);

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.BadGateway, code: "backend_error");
    }

    private Task<HttpResponseMessage> SendChatAsync(bool stream) =>
        Router.Http.SendStreamingAsync(Requests.Post("v1/chat/completions", Requests.Chat("chat", "hello", stream)));
}

/// <summary>A deployment whose api_base has nothing listening.</summary>
public sealed class UnreachableBackendTests(ITestOutputHelper output) : IsolatedRouterTest(output)
{
    protected override Task<RouterEnvironment> StartEnvironmentAsync() =>
        RouterEnvironment.StartSingleBackendAsync(customize: c => c with
        {
            Deployments = [new("chat", $"ollama_chat/{RouterEnvironment.ChatModel}", $"http://127.0.0.1:{FreePort.Next()}")],
        });

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task BackendUnreachable_Returns502BackendError(bool stream)
    {
        using var response = await Router.Http.SendAsync(
            Requests.Post("v1/chat/completions", Requests.Chat("chat", "hello", stream)));

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.BadGateway, code: "backend_error");
    }
}

/// <summary>A model deleted from its backend between two of the router's polls.</summary>
public sealed class ModelDeletedBetweenPollsTests(ITestOutputHelper output) : IsolatedRouterTest(output)
{
    // Polled at start, then not for five minutes: within the test only a poll the backend's 404 asks for can tell the router.
    protected override Task<RouterEnvironment> StartEnvironmentAsync() =>
        RouterEnvironment.StartSingleBackendAsync(customize: c => c with { Router = new Dictionary<string, string> { ["model_poll_interval"] = "300" } });

    [Fact]
    public async Task BackendSaysItLacksTheModel_TheRouterAsksWhatItHoldsAtOnce_AndStopsSendingThere()
    {
        await Eventually.UntilAsync(() => Task.FromResult(Router.Output.Lines().Any(l => l.Contains($"holds [{RouterEnvironment.ChatModel}]", StringComparison.Ordinal))),
            polled => polled, "the router's first poll of the backend", TimeSpan.FromSeconds(30));
        await Env.SimulatorA.Control.SetModelsAsync([]);

        using (var first = await SendChatAsync())
            await OpenAiErrorAssert.IsErrorAsync(first, HttpStatusCode.NotFound, code: "model_not_found");
        Assert.True((await Env.GetTotalStatsAsync()).Received >= 1, "The first request should have reached the backend, which answered 404.");

        // Soon the router knows without asking: a request is answered 404 and the backend never sees it.
        await Eventually.UntilAsync(async () =>
        {
            var before = (await Env.GetTotalStatsAsync()).Received;
            using var response = await SendChatAsync();
            return (response.StatusCode, Calls: (await Env.GetTotalStatsAsync()).Received - before);
        }, r => r is { StatusCode: HttpStatusCode.NotFound, Calls: 0 }, "a 404 that no longer reaches the backend", TimeSpan.FromSeconds(10));
    }

    private Task<HttpResponseMessage> SendChatAsync() =>
        Router.Http.SendStreamingAsync(Requests.Post("v1/chat/completions", Requests.Chat("chat", "hello", stream: false)));
}
