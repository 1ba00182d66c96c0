using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace LlmRouter.Tests.Infrastructure;

/// <summary>Raw HTTP helpers for tests that must control the exact bytes and headers sent.</summary>
public static class Requests
{
    /// <summary>A minimal chat body: one user message.</summary>
    public static JsonObject Chat(string model, string content, bool? stream = null)
    {
        var body = new JsonObject
        {
            ["model"] = model,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = content }),
        };
        if (stream is not null)
        {
            body["stream"] = stream.Value;
        }

        return body;
    }

    public static HttpRequestMessage Post(string path, string body, string contentType = "application/json")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path.TrimStart('/'))
        {
            Content = new StringContent(body, Encoding.UTF8),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        return request;
    }

    public static HttpRequestMessage Post(string path, JsonNode body) => Post(path, body.ToJsonString());

    /// <summary>Sends and returns as soon as the headers arrive, so streamed bodies can be read as they come.</summary>
    public static Task<HttpResponseMessage> SendStreamingAsync(
        this HttpClient http, HttpRequestMessage request, CancellationToken cancellationToken = default) =>
        http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);

    public static async Task<JsonNode> ReadJsonAsync(this HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"Expected success, got {(int)response.StatusCode}: {body}");
        return JsonNode.Parse(body) ?? throw new Xunit.Sdk.XunitException("Body is JSON null");
    }

    public static string? Header(this HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values)
            ? string.Join(",", values)
            : null;
}
