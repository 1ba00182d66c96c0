using System.ClientModel;
using System.Net;
using System.Net.Http.Headers;
using LlmRouter.Tests.Infrastructure;
using OpenAI.Chat;
using Xunit.Abstractions;

namespace LlmRouter.Tests.Integration;

/// <summary>A router with <c>master_key: sk-test-master</c>.</summary>
public sealed class MasterKeyFixture : IAsyncLifetime
{
    public const string MasterKey = "sk-test-master";

    public RouterEnvironment Environment { get; private set; } = null!;

    public async Task InitializeAsync() =>
        Environment = await RouterEnvironment.StartSingleBackendAsync(customize: c => c with { MasterKey = MasterKey });

    public async Task DisposeAsync() => await Environment.DisposeAsync();
}

/// <summary>With a master key, every API route needs <c>Authorization: Bearer &lt;master_key&gt;</c>; health does not.</summary>
public sealed class AuthTests(MasterKeyFixture fixture, ITestOutputHelper output) : IClassFixture<MasterKeyFixture>, IAsyncLifetime
{
    private readonly LogMarks _marks = fixture.Environment.MarkLogs();

    private RouterEnvironment Env => fixture.Environment;

    public Task InitializeAsync() => Env.ResetSimulatorsAsync();

    public Task DisposeAsync()
    {
        _marks.WriteTo(output);
        return Task.CompletedTask;
    }

    [Theory]
    [InlineData(null)]
    [InlineData("Bearer ")]
    [InlineData("Bearer wrong-key")]
    [InlineData("Bearer sk-test-maste")]
    [InlineData("Bearer sk-test-master2")]
    [InlineData("Bearer SK-TEST-MASTER")]
    [InlineData("Basic c2stdGVzdC1tYXN0ZXI6")]
    public async Task Chat_MissingOrWrongKey_Returns401InvalidApiKey(string? authorization)
    {
        using var request = Requests.Post("v1/chat/completions", Requests.Chat("chat", "hi"));
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        using var response = await Env.Router.Http.SendAsync(request);

        var error = await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.Unauthorized, code: "invalid_api_key");
        Assert.DoesNotContain(MasterKeyFixture.MasterKey, error.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal(0, (await Env.GetTotalStatsAsync()).Received);
    }

    [Theory]
    [InlineData("GET", "v1/models")]
    [InlineData("GET", "v1/models/chat")]
    [InlineData("POST", "v1/completions")]
    [InlineData("POST", "v1/embeddings")]
    [InlineData("GET", "models")]
    [InlineData("POST", "chat/completions")]
    public async Task OtherRoutes_MissingKey_Return401InvalidApiKey(string method, string path)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method == "POST")
        {
            request.Content = new StringContent("""{"model":"chat","prompt":"hi","input":"hi"}""", new MediaTypeHeaderValue("application/json"));
        }

        using var response = await Env.Router.Http.SendAsync(request);

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.Unauthorized, code: "invalid_api_key");
    }

    [Fact]
    public async Task Chat_CorrectKeyThroughSdk_IsServed()
    {
        var chat = Env.CreateOpenAIClient(MasterKeyFixture.MasterKey).GetChatClient("chat");

        var result = await chat.CompleteChatAsync([new UserChatMessage("hi")]);

        Assert.Equal(ChatFinishReason.Stop, result.Value.FinishReason);
    }

    [Fact]
    public async Task Chat_WrongKeyThroughSdk_Throws401()
    {
        var chat = Env.CreateOpenAIClient("sk-wrong").GetChatClient("chat");

        var e = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage("hi")]));

        Assert.Equal(401, e.Status);
    }

    [Theory]
    [InlineData("health/liveliness")]
    [InlineData("health/readiness")]
    public async Task Health_NeedsNoKey(string path)
    {
        using var response = await Env.Router.Http.GetAsync(path);

        // Readiness may report an unready backend with a 503; what matters here is that it asks for no key.
        Assert.NotEqual(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.NotEqual(HttpStatusCode.NotFound, response.StatusCode);
        if (path == "health/liveliness")
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }
}
