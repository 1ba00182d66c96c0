using System.Net;
using System.Net.Http.Headers;
using System.Text;
using LlmRouter.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LlmRouter.Tests.Integration;

/// <summary>A router with <c>max_request_size_mb: 1</c>.</summary>
public sealed class SmallBodyLimitFixture : IAsyncLifetime
{
    public RouterEnvironment Environment { get; private set; } = null!;

    public async Task InitializeAsync() =>
        Environment = await RouterEnvironment.StartSingleBackendAsync(customize: c => c with { MaxRequestSizeMb = 1 });

    public async Task DisposeAsync() => await Environment.DisposeAsync();
}

/// <summary>Bodies over <c>max_request_size_mb</c> get 413 <c>request_too_large</c>, with or without a Content-Length.</summary>
public sealed class RequestSizeLimitTests(SmallBodyLimitFixture fixture, ITestOutputHelper output)
    : IClassFixture<SmallBodyLimitFixture>, IDisposable
{
    private const int OneMiB = 1024 * 1024;
    private readonly LogMarks _marks = fixture.Environment.MarkLogs();

    private RouterProcess Router => fixture.Environment.Router;

    [Fact]
    public async Task Body_UnderTheLimit_IsServed()
    {
        using var response = await Router.Http.SendAsync(Requests.Post("v1/chat/completions", ChatBody(OneMiB / 2)));

        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {body}");
    }

    [Fact]
    public async Task Body_OverTheLimitWithContentLength_Returns413()
    {
        using var response = await Router.Http.SendAsync(Requests.Post("v1/chat/completions", ChatBody(2 * OneMiB)));

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.RequestEntityTooLarge, code: "request_too_large");
    }

    [Fact]
    public async Task Body_OverTheLimitChunked_Returns413()
    {
        // No Content-Length: the limit must hold while reading, not only by the header.
        var bytes = Encoding.UTF8.GetBytes(ChatBody(2 * OneMiB));
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StreamContent(new UnknownLengthStream(bytes)),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.TransferEncodingChunked = true;

        using var response = await Router.Http.SendAsync(request);

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.RequestEntityTooLarge, code: "request_too_large");
    }

    public void Dispose() => _marks.WriteTo(output);

    private static string ChatBody(int size) =>
        Requests.Chat("chat", new string('a', size)).ToJsonString();

    /// <summary>A read-only stream that hides its length, so HttpClient must send it chunked.</summary>
    private sealed class UnknownLengthStream(byte[] bytes) : MemoryStream(bytes, writable: false)
    {
        public override bool CanSeek => false;
    }
}
