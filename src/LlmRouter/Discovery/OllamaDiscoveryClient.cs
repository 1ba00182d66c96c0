using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace LlmRouter.Discovery;

/// <summary>Discovery and health calls over the router's shared backend connection pool.</summary>
internal sealed class OllamaDiscoveryClient(HttpMessageInvoker http) : IBackendDiscoveryClient
{
    private const int ErrorTextLimit = 300;
    private static readonly OllamaDiscoveryJsonContext Json = OllamaDiscoveryJsonContext.Default;

    public async Task<IReadOnlyList<HeldModel>> ListHeldAsync(Uri apiBase, CancellationToken cancellationToken)
    {
        var tags = await GetJsonAsync(apiBase, "api/tags", Json.TagsResponse, cancellationToken);
        var held = new List<HeldModel>(tags.Models?.Count ?? 0);
        foreach (var m in tags.Models ?? [])
        {
            if ((m.Name ?? m.Model) is not { Length: > 0 } name) continue;
            var embeddingOnly = m.Capabilities is { } caps && caps.Contains("embedding") && !caps.Contains("completion");
            held.Add(new HeldModel(name, $"{m.Digest}@{m.ModifiedAt}", embeddingOnly));
            // "model" is the same as "name" on every server seen; keep both should one ever differ.
            if (m.Model is { Length: > 0 } model && !OllamaModelName.AreSame(model, name))
                held.Add(new HeldModel(model, $"{m.Digest}@{m.ModifiedAt}", embeddingOnly));
        }
        return held;
    }

    public async Task<IReadOnlyList<string>> ListLoadedAsync(Uri apiBase, CancellationToken cancellationToken)
    {
        var ps = await GetJsonAsync(apiBase, "api/ps", Json.PsResponse, cancellationToken);
        var loaded = new List<string>(ps.Models?.Count ?? 0);
        foreach (var m in ps.Models ?? [])
        {
            if ((m.Name ?? m.Model) is { Length: > 0 } name) loaded.Add(name);
        }
        return loaded;
    }

    public async Task<int?> GetContextLengthAsync(Uri apiBase, string model, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(apiBase, "api/show"))
        {
            Content = JsonContent.Create(new ShowRequest(model), Json.ShowRequest),
        };
        using var response = await SendAsync(request, cancellationToken);
        var show = await ReadJsonAsync(response, Json.ShowResponse, cancellationToken);
        return ContextLengthOf(show.ModelInfo);
    }

    public async Task PingAsync(Uri apiBase, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, apiBase);
        using var response = await SendAsync(request, cancellationToken);
        await DrainAsync(response, cancellationToken);
    }

    public async Task GenerateOneTokenAsync(Uri apiBase, string model, bool embeddingOnly, CancellationToken cancellationToken)
    {
        if (!embeddingOnly)
        {
            try
            {
                var generate = new GenerateProbeRequest(model, "hi", Stream: false, new GenerateProbeOptions(NumPredict: 1));
                await PostAndDrainAsync(apiBase, "api/generate", JsonContent.Create(generate, Json.GenerateProbeRequest), cancellationToken);
                return;
            }
            // Servers too old to list capabilities in /api/tags: the 400 itself says the model only embeds.
            catch (BackendAnswerException e) when (e.Message.Contains("does not support generate", StringComparison.Ordinal))
            {
            }
        }
        await PostAndDrainAsync(apiBase, "api/embed", JsonContent.Create(new EmbedProbeRequest(model, "hi"), Json.EmbedProbeRequest), cancellationToken);
    }

    private async Task PostAndDrainAsync(Uri apiBase, string path, HttpContent content, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(apiBase, path)) { Content = content };
        using var response = await SendAsync(request, cancellationToken);
        await DrainAsync(response, cancellationToken);
    }

    /// <summary><c>model_info["&lt;general.architecture&gt;.context_length"]</c>, else any <c>*.context_length</c>.</summary>
    internal static int? ContextLengthOf(Dictionary<string, JsonElement>? modelInfo)
    {
        if (modelInfo is null) return null;
        if (modelInfo.TryGetValue("general.architecture", out var arch) && arch.ValueKind == JsonValueKind.String
            && modelInfo.TryGetValue(arch.GetString() + ".context_length", out var length) && AsPositiveInt(length) is { } exact)
            return exact;
        foreach (var (key, value) in modelInfo)
        {
            if (key.EndsWith(".context_length", StringComparison.Ordinal) && AsPositiveInt(value) is { } any) return any;
        }
        return null;
    }

    private static int? AsPositiveInt(JsonElement value) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var n) && n > 0 ? (int)Math.Min(n, int.MaxValue) : null;

    private async Task<T> GetJsonAsync<T>(Uri apiBase, string path, JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(apiBase, path));
        using var response = await SendAsync(request, cancellationToken);
        return await ReadJsonAsync(response, type, cancellationToken);
    }

    /// <summary>Sends, and turns a non-2xx answer into <see cref="BackendAnswerException"/> carrying Ollama's error text.</summary>
    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await http.SendAsync(request, cancellationToken);
        if (response.IsSuccessStatusCode) return response;
        using (response)
        {
            var body = await ReadSomeAsync(response, cancellationToken);
            var text = body.Length > 0 ? $": {body}" : "";
            throw new BackendAnswerException($"{request.Method} /{request.RequestUri!.AbsolutePath.TrimStart('/')} answered {(int)response.StatusCode}{text}");
        }
    }

    private static async Task<T> ReadJsonAsync<T>(HttpResponseMessage response, JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        return await JsonSerializer.DeserializeAsync(stream, type, cancellationToken)
            ?? throw new JsonException($"{response.RequestMessage?.RequestUri?.AbsolutePath} answered null");
    }

    // Reading the (small) body to its end lets the connection go back to the pool instead of being closed.
    private static async Task DrainAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        await stream.CopyToAsync(Stream.Null, cancellationToken);
    }

    private static async Task<string> ReadSomeAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
            var buffer = new byte[ErrorTextLimit];
            var read = 0;
            int n;
            while (read < buffer.Length && (n = await stream.ReadAsync(buffer.AsMemory(read), cancellationToken)) > 0) read += n;
            return Encoding.UTF8.GetString(buffer, 0, read).Trim();
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            return "";
        }
    }
}
