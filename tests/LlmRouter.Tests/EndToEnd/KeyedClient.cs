using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text.Json;
using LlmRouter.Tests.Infrastructure;
using OpenAI;
using OpenAI.Chat;

namespace LlmRouter.Tests.EndToEnd;

/// <summary>One chat request as an app would send it.</summary>
internal sealed record ChatCall
{
    public string Model { get; init; } = "chat";
    public string Prompt { get; init; } = "hello there";
    /// <summary>Sent as <c>max_completion_tokens</c> (the SDK's name for it); null sends none.</summary>
    public int? MaxTokens { get; init; }
    public bool Stream { get; init; }
    /// <summary>OpenAI's <c>user</c> field.</summary>
    public string? User { get; init; }
    /// <summary>Open WebUI's <c>X-OpenWebUI-User-Id</c> header.</summary>
    public string? OpenWebUiUser { get; init; }
    /// <summary>The client's <c>x-request-id</c>, unique per call so rows can be matched to calls.</summary>
    public string RequestId { get; init; } = "e2e-" + Guid.NewGuid().ToString("N");
}

/// <summary>
/// How a call ended, from the client's side: status (0 when no response came), error code, token counts the client
/// was told, headers, and whether the answer arrived whole (a stream up to its usage chunk and end).
/// </summary>
internal sealed record ChatAnswer(
    string RequestId, int Status, string? Code, int PromptTokens, int CompletionTokens, IReadOnlyDictionary<string, string> Headers, string? Error,
    bool Completed)
{
    public int TotalTokens => PromptTokens + CompletionTokens;

    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;

    public override string ToString() => $"{Status} {Code} {Error} ({RequestId})";
}

/// <summary>
/// Sends chat requests with the official OpenAI .NET SDK (retries off, so every refusal is seen) and reports what
/// came back, failures included, instead of throwing.
/// </summary>
internal static class KeyedClient
{
    private static readonly HttpClient Plain = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(30) };

    public static async Task<ChatAnswer> ChatAsync(RouterProcess router, string apiKey, ChatCall call, CancellationToken cancellationToken = default)
    {
        var capture = new ResponseCapture(call);
        var options = new OpenAIClientOptions
        {
            Endpoint = router.V1Endpoint,
            RetryPolicy = new ClientRetryPolicy(0),
            NetworkTimeout = TimeSpan.FromMinutes(1),
        };
        options.AddPolicy(capture, PipelinePosition.PerCall);
        var client = new ChatClient(call.Model, new ApiKeyCredential(apiKey), options);
        var messages = new ChatMessage[] { new UserChatMessage(call.Prompt) };
        var settings = new ChatCompletionOptions { MaxOutputTokenCount = call.MaxTokens, EndUserId = call.User };
        try
        {
            if (call.Stream)
            {
                int prompt = 0, completion = 0;
                var sawUsage = false;
                await foreach (var update in client.CompleteChatStreamingAsync(messages, settings, cancellationToken))
                {
                    if (update.Usage is not { } usage) continue;
                    (prompt, completion) = (usage.InputTokenCount, usage.OutputTokenCount);
                    sawUsage = true;
                }
                return capture.Answer(prompt, completion, completed: sawUsage);
            }
            var result = await client.CompleteChatAsync(messages, settings, cancellationToken);
            return capture.Answer(result.Value.Usage.InputTokenCount, result.Value.Usage.OutputTokenCount, completed: true);
        }
        catch (Exception e) when (e is ClientResultException or IOException or HttpRequestException)
        {
            // Refused (the SDK throws on 4xx/5xx), unreachable, or cut off mid-stream.
            return capture.Answer(0, 0, completed: false, e.Message);
        }
    }

    /// <summary>The status of <c>GET /v1/models</c> with <paramref name="apiKey"/>: the cheapest authenticated call.</summary>
    public static async Task<int> ModelsStatusAsync(RouterProcess router, string apiKey)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(router.BaseUrl, "v1/models"));
        request.Headers.Authorization = new("Bearer", apiKey);
        using var response = await Plain.SendAsync(request);
        return (int)response.StatusCode;
    }

    /// <summary>The model ids <c>GET /v1/models</c> lists for <paramref name="apiKey"/>.</summary>
    public static async Task<IReadOnlyList<string>> ModelIdsAsync(RouterProcess router, string apiKey)
    {
        var models = new OpenAIClient(new ApiKeyCredential(apiKey), new OpenAIClientOptions
        {
            Endpoint = router.V1Endpoint,
            RetryPolicy = new ClientRetryPolicy(0),
        }).GetOpenAIModelClient();
        return (await models.GetModelsAsync()).Value.Select(m => m.Id).ToList();
    }

    /// <summary>Adds the call's headers to the request and keeps the response's status, headers and (for errors) body.</summary>
    private sealed class ResponseCapture(ChatCall call) : PipelinePolicy
    {
        private int _status;
        private Dictionary<string, string> _headers = new(StringComparer.OrdinalIgnoreCase);
        private string? _code;
        private string? _error;

        public ChatAnswer Answer(int prompt, int completion, bool completed, string? failure = null) =>
            new(call.RequestId, _status, _code, prompt, completion, _headers, _error ?? failure, completed && _status == 200);

        public override void Process(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex) =>
            throw new NotSupportedException("The tests call the SDK asynchronously.");

        public override async ValueTask ProcessAsync(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            message.Request.Headers.Set("x-request-id", call.RequestId);
            if (call.OpenWebUiUser is not null) message.Request.Headers.Set("X-OpenWebUI-User-Id", call.OpenWebUiUser);
            await ProcessNextAsync(message, pipeline, currentIndex);
            var response = message.Response!;
            _status = response.Status;
            _headers = response.Headers.ToDictionary(h => h.Key, h => h.Value, StringComparer.OrdinalIgnoreCase);
            if (response.Status < 400) return;
            await response.BufferContentAsync();
            _error = response.Content.ToString();
            try
            {
                using var body = JsonDocument.Parse(_error);
                _code = body.RootElement.GetProperty("error").GetProperty("code").GetString();
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                _code = null;
            }
        }
    }
}
