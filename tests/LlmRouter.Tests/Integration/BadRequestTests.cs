using System.Net;
using LlmRouter.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LlmRouter.Tests.Integration;

/// <summary>Bad input gets a 4xx OpenAI error naming the problem, never a 500 or a stack trace, and never reaches a backend.</summary>
public sealed class BadRequestTests(SharedRouterFixture fixture, ITestOutputHelper output) : SharedRouterTest(fixture, output)
{
    [Theory]
    [InlineData("GET", "v1/chat/completions", "POST")]
    [InlineData("PUT", "v1/embeddings", "POST")]
    [InlineData("DELETE", "v1/models", "GET")]
    [InlineData("POST", "v1/models", "GET")]
    [InlineData("POST", "openapi/v1.json", "GET")]
    public async Task WrongMethodOnAKnownPath_Returns405WithAllow(string method, string path, string allowed)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        using var response = await Router.Http.SendAsync(request);

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.MethodNotAllowed, code: "method_not_allowed");
        Assert.Equal([allowed], response.Content.Headers.Allow);
    }

    [Theory]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("text/plain")]
    [InlineData(null)]
    public async Task Chat_BodyWithoutAJsonContentType_IsTakenAsJson_AsOllamaDoes(string? contentType)
    {
        // What `curl -d '{...}'` sends: a form type. Ollama reads the body as JSON whatever the header says.
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new ByteArrayContent("""{"model":"chat","messages":[{"role":"user","content":"hi"}]}"""u8.ToArray()),
        };
        if (contentType is not null) request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(contentType);

        using var response = await Router.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("chat.completion", (await response.ReadJsonAsync())["object"]?.GetValue<string>());
    }

    [Theory]
    [InlineData("v1/no-such-endpoint")]
    [InlineData("v1/chat/completions.json")]
    [InlineData("foo.php")]
    public async Task UnknownPath_Returns404(string path)
    {
        using var response = await Router.Http.GetAsync(path);

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.NotFound, code: "not_found");
    }

    [Fact]
    public async Task Chat_BodyNotUtf8_Returns400NotA500()
    {
        // A byte 0xFF inside the model name: the JSON parser takes it, reading the string would throw.
        var body = "{\"model\":\"c"u8.ToArray().Append((byte)0xFF).Concat("\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"u8.ToArray()).ToArray();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new("application/json");

        using var response = await Router.Http.SendAsync(request);

        var error = await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.BadRequest, type: "invalid_request_error");
        Assert.Contains("UTF-8", error.Message());
    }

    [Fact]
    public async Task HealthProbes_AnswerHead_AsLoadBalancersSendIt()
    {
        foreach (var path in new[] { "health/liveliness", "health/readiness" })
        {
            using var response = await Router.Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, path));
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"HEAD /{path}: {(int)response.StatusCode}");
        }
    }

    public static TheoryData<string, string, string?> InvalidChatBodies => new()
    {
        // body, why, a word the error message must contain (null: any message)
        { """{"model":"chat","messages":[{"role":"user","content":"hi"}""", "truncated JSON", null },
        { """{model: chat}""", "not JSON", null },
        { "", "empty body", null },
        { "[]", "an array, not an object", null },
        { "null", "JSON null", null },
        { """{"model":"chat","messages":"hello"}""", "messages is a string", "messages" },
        { """{"model":42,"messages":[{"role":"user","content":"hi"}]}""", "model is a number", "model" },
        { """{"messages":[{"role":"user","content":"hi"}]}""", "model missing", "model" },
        { """{"model":"chat"}""", "messages missing", "messages" },
        { """{"model":"chat","messages":[]}""", "messages empty", "messages" },
        { """{"model":"chat","messages":[{"role":"user","content":"hi"}],"stream":"yes"}""", "stream is a string", "stream" },
        { """{"model":"chat","messages":[{"role":"user","content":"hi"}],"max_tokens":"ten"}""", "max_tokens is a string", "max_tokens" },
        { """{"model":"chat","messages":[{"role":"user","content":"hi"}],"max_tokens":100000000000000000}""", "max_tokens past any model", "max_tokens" },
        { """{"model":"chat","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":2147483648}""", "max_completion_tokens past any model", "max_completion_tokens" },
        { """{"model":"chat","messages":[{"role":"user","content":"hi"}],"temperature":1e400}""", "temperature infinite", "temperature" },
        { """{"model":"chat","messages":[{"role":"user","content":"\ud800"}]}""", "content half a surrogate pair", "messages" },
        { """{"model":"\udc00","messages":[{"role":"user","content":"hi"}]}""", "model half a surrogate pair", "model" },
        { """{"model":"ch\u0000at","messages":[{"role":"user","content":"hi"}]}""", "model with a NUL", "model" },
        { "{\"model\":\"" + new string('m', 257) + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", "model name too long to be one", "model" },
    };

    [Theory]
    [MemberData(nameof(InvalidChatBodies))]
    public async Task Chat_InvalidBody_Returns400InvalidRequestError(string body, string why, string? mentions)
    {
        using var response = await Router.Http.SendAsync(Requests.Post("v1/chat/completions", body));

        var error = await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.BadRequest, type: "invalid_request_error");
        if (mentions is not null)
        {
            Assert.True(
                error.Message().Contains(mentions, StringComparison.OrdinalIgnoreCase) ||
                error["param"]?.GetValue<string>() == mentions,
                $"The error for \"{why}\" should name '{mentions}' in message or param: {error.ToJsonString()}");
        }

        await AssertNoBackendCallAsync();
    }

    [Theory]
    [InlineData("v1/completions", "{\"model\":\"chat\",\"prompt\":\"")]
    [InlineData("v1/completions", """{"prompt":"hi"}""")]
    [InlineData("v1/embeddings", """{"model":"embed"}""")]
    [InlineData("v1/embeddings", """{"model":"embed","input":42}""")]
    [InlineData("v1/embeddings", "")]
    public async Task OtherEndpoints_InvalidBody_Returns400InvalidRequestError(string path, string body)
    {
        using var response = await Router.Http.SendAsync(Requests.Post(path, body));

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.BadRequest, type: "invalid_request_error");
        await AssertNoBackendCallAsync();
    }

    [Theory]
    [InlineData("v1/chat/completions", """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}""")]
    [InlineData("v1/chat/completions", """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true}""")]
    [InlineData("v1/completions", """{"model":"gpt-4o","prompt":"hi"}""")]
    [InlineData("v1/embeddings", """{"model":"gpt-4o","input":"hi"}""")]
    public async Task UnknownModel_Returns404ModelNotFound(string path, string body)
    {
        using var response = await Router.Http.SendAsync(Requests.Post(path, body));

        var error = await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.NotFound, code: "model_not_found");
        Assert.Contains("gpt-4o", error.Message(), StringComparison.Ordinal);
        await AssertNoBackendCallAsync();
    }

    [Fact]
    public async Task BackendModelName_IsNotALogicalName_Returns404()
    {
        // Clients must use the logical name; the Ollama name behind it is not a route.
        var body = Requests.Chat(RouterEnvironment.ChatModel, "hi");

        using var response = await Router.Http.SendAsync(Requests.Post("v1/chat/completions", body));

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.NotFound, code: "model_not_found");
    }

    private async Task AssertNoBackendCallAsync()
    {
        var stats = await Env.GetTotalStatsAsync();
        Assert.True(stats.Received == 0, $"A bad request reached a backend: {System.Text.Json.JsonSerializer.Serialize(stats)}");
    }
}
