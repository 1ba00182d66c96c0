using System.Net;
using System.Text.Json;
using LlmRouter.Configuration;

namespace LlmRouter.Backends.Ollama;

/// <summary>Ollama's native API: <c>/api/chat</c>, <c>/api/generate</c>, <c>/api/embed</c>.</summary>
internal sealed class OllamaBackend(HttpMessageInvoker http) : IModelBackend
{
    private const int MaxErrorBodyBytes = 16 * 1024;

    public async Task<IGenerationStream> StartGenerationAsync(Deployment deployment, PreparedRequest request, CancellationToken cancellationToken)
    {
        var path = request.Operation == Operation.Chat ? "api/chat" : "api/generate";
        var response = await SendAsync(deployment, path, request, cancellationToken);
        // Owns the response from here; handed to the caller only once the first line has parsed cleanly.
        var stream = new OllamaGenerationStream(response);
        try
        {
            if (!await stream.MoveNextAsync(cancellationToken))
                throw new BackendFailureException(FailureKind.BadAnswer, $"Backend {deployment.Id} closed the answer before its first line.");
            if (stream.Current.Error is { } error)
                throw new BackendFailureException(FailureKind.Unavailable, $"Backend {deployment.Id} failed: {error}");
            return stream;
        }
        catch (Exception e)
        {
            await stream.DisposeAsync();
            if (e is HttpRequestException or IOException)
                throw new BackendFailureException(FailureKind.Unavailable, $"Backend {deployment.Id} dropped the connection.", e);
            if (e is JsonException)
                throw new BackendFailureException(FailureKind.BadAnswer, $"Backend {deployment.Id} sent a line that is not valid JSON.", e);
            throw;
        }
    }

    public async Task<EmbeddingResult> EmbedAsync(Deployment deployment, PreparedRequest request, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(deployment, "api/embed", request, cancellationToken);
        try
        {
            var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
            using var document = JsonDocument.Parse(bytes);
            var root = document.RootElement;
            if (!root.TryGetProperty("embeddings", out var embeddings) || embeddings.ValueKind != JsonValueKind.Array)
                throw new BackendFailureException(FailureKind.BadAnswer, $"Backend {deployment.Id} answered without 'embeddings'.");
            var vectors = new List<ReadOnlyMemory<byte>>(embeddings.GetArrayLength());
            foreach (var vector in embeddings.EnumerateArray())
            {
                vectors.Add(System.Text.Encoding.UTF8.GetBytes(vector.GetRawText()));
            }
            var tokens = root.TryGetProperty("prompt_eval_count", out var count) && count.TryGetInt32(out var n) ? n : 0;
            return new EmbeddingResult(vectors, tokens);
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            throw new BackendFailureException(FailureKind.Unavailable, $"Backend {deployment.Id} dropped the connection.", e);
        }
        catch (JsonException e)
        {
            throw new BackendFailureException(FailureKind.BadAnswer, $"Backend {deployment.Id} sent invalid JSON.", e);
        }
    }

    /// <summary>Sends and returns once headers arrive; a non-200 becomes a <see cref="BackendFailureException"/>.</summary>
    private async Task<HttpResponseMessage> SendAsync(Deployment deployment, string path, PreparedRequest request, CancellationToken cancellationToken)
    {
        using var message = new HttpRequestMessage(HttpMethod.Post, EndpointUri(deployment.ApiBase, path))
        {
            Content = request.ContentFor(deployment.Model),
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
        };
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(message, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new BackendFailureException(FailureKind.Unavailable, $"Backend {deployment.Id} failed before answering: {Reason(e)}.", e);
        }
        if (response.StatusCode == HttpStatusCode.OK) return response;
        using (response)
        {
            var detail = await ReadErrorAsync(response, cancellationToken);
            var status = (int)response.StatusCode;
            throw status switch
            {
                400 => new BackendFailureException(FailureKind.BadRequest, detail),
                404 => new BackendFailureException(FailureKind.ModelMissing, $"Backend {deployment.Id} does not hold model '{deployment.Model}': {detail}"),
                429 or 503 => new BackendFailureException(FailureKind.Busy, $"Backend {deployment.Id} is busy: {detail}"),
                >= 500 => new BackendFailureException(FailureKind.Unavailable, $"Backend {deployment.Id} failed with {status}: {detail}"),
                _ => new BackendFailureException(FailureKind.BadAnswer, $"Backend {deployment.Id} answered {status}: {detail}"),
            };
        }
    }

    /// <summary>What went wrong on the way to the backend, in words (the runtime's category alone is often "Unknown").</summary>
    private static string Reason(HttpRequestException e) => e.HttpRequestError switch
    {
        HttpRequestError.NameResolutionError => "its host name does not resolve",
        HttpRequestError.ConnectionError => "cannot connect",
        HttpRequestError.SecureConnectionError => "the TLS handshake failed",
        HttpRequestError.ResponseEnded => "it closed the connection without an answer",
        _ => (e.InnerException ?? e).Message.TrimEnd('.'),
    };

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(Uri, string), Uri> EndpointUris = new();

    /// <summary>api_base + path, parsed once per backend and path rather than per request.</summary>
    private static Uri EndpointUri(Uri apiBase, string path) =>
        EndpointUris.TryGetValue((apiBase, path), out var uri) ? uri : EndpointUris.GetOrAdd((apiBase, path), static k => new Uri(k.Item1, k.Item2));

    /// <summary>Ollama's error body is <c>{"error":"…"}</c>; anything else is quoted, bounded.</summary>
    private static async Task<string> ReadErrorAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
            var buffer = new byte[MaxErrorBodyBytes];
            var length = 0;
            int read;
            while (length < buffer.Length && (read = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken)) > 0) length += read;
            var body = buffer.AsSpan(0, length);
            try
            {
                var reader = new Utf8JsonReader(body);
                using var document = JsonDocument.ParseValue(ref reader);
                if (document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("error", out var error))
                {
                    return error.ValueKind == JsonValueKind.String ? error.GetString()! : error.GetRawText();
                }
            }
            catch (JsonException)
            {
            }
            var text = System.Text.Encoding.UTF8.GetString(body).Trim();
            return text.Length == 0 ? response.ReasonPhrase ?? "no details" : text;
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            return response.ReasonPhrase ?? "no details";
        }
    }
}
