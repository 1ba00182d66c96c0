using System.Buffers.Text;
using System.Text.Json;
using OllamaSimulator.Generation;
using OllamaSimulator.Http;
using OllamaSimulator.Knobs;
using OllamaSimulator.Models;
using OllamaSimulator.Native;

namespace OllamaSimulator.OpenAi;

/// <summary>
/// Reads <c>/v1/chat/completions</c> as Ollama's <c>openai.FromChatRequest</c> does: <c>stream</c> defaults to false,
/// <c>max_tokens</c> (not <c>max_completion_tokens</c>) caps the answer, images must be base64 data URIs.
/// </summary>
internal static class ChatCompletionReader
{
    private static readonly string[] ImagePrefixes =
        ["data:image/jpeg;base64,", "data:image/jpg;base64,", "data:image/png;base64,", "data:image/webp;base64,", "data:;base64,"];

    public static ChatCompletionRequest Read(JsonElement root, SimState state)
    {
        var model = JsonFields.String(root, "model", "ChatCompletionRequest.model") ?? "";
        var stream = JsonFields.Bool(root, "stream", "ChatCompletionRequest.stream") ?? false;
        var includeUsage = JsonFields.Object(root, "stream_options", "ChatCompletionRequest.stream_options") is { } so
            && (JsonFields.Bool(so, "include_usage", "StreamOptions.include_usage") ?? false);
        var maxTokens = JsonFields.Int(root, "max_tokens", "ChatCompletionRequest.max_tokens");
        var tools = JsonFields.Array(root, "tools", "ChatCompletionRequest.tools");
        var messages = JsonFields.Array(root, "messages", "ChatCompletionRequest.messages");
        if (messages is not { } list || list.GetArrayLength() == 0) throw new ApiException(400, "[] is too short - 'messages'");

        long characters = 0;
        var lastRole = "";
        foreach (var message in list.EnumerateArray())
        {
            if (message.ValueKind != JsonValueKind.Object) throw new ApiException(400, "invalid message format");
            lastRole = (JsonFields.String(message, "role", "Message.role") ?? "").ToLowerInvariant();
            characters += ContentLength(JsonFields.Get(message, "content"));
            CheckToolCalls(message);
        }

        if (!ModelName.IsValid(model)) throw new ApiException(400, "model is required");
        var entry = state.Models.Find(model) ?? throw new ApiException(404, $"model '{model}' not found");
        if (!entry.Can("completion")) throw new ApiException(400, $"\"{model}\" does not support chat");
        var hasTools = tools is { } t && t.GetArrayLength() > 0;
        if (hasTools && !entry.Can("tools")) throw new ApiException(400, $"{ModelName.Canonical(model)} does not support tools");

        var plan = hasTools && state.Knobs.Current.ToolCalls == ToolCallMode.Auto && lastRole != "tool"
            ? NativeFields.ToolPlan(tools!.Value, "ChatCompletionRequest.tools")
            : null;
        var numPredict = maxTokens is >= 0 ? maxTokens.Value : -1;
        var job = new GenerationJob(model, entry, stream, numPredict, GenerationJob.PromptTokens(characters), plan, LoadOnly: false, UnloadAfter: false);
        return new ChatCompletionRequest(job, includeUsage);
    }

    private static long ContentLength(JsonElement? content)
    {
        switch (content)
        {
            case null:
                return 0;
            case { ValueKind: JsonValueKind.String } s:
                return s.GetString()!.Length;
            case { ValueKind: JsonValueKind.Array } parts:
                long length = 0;
                foreach (var part in parts.EnumerateArray()) length += PartLength(part);
                return length;
            case { } other:
                var goType = other.ValueKind switch
                {
                    JsonValueKind.Number => "float64",
                    JsonValueKind.True or JsonValueKind.False => "bool",
                    _ => "map[string]interface {}",
                };
                throw new ApiException(400, $"invalid message content type: {goType}");
        }
    }

    private static long PartLength(JsonElement part)
    {
        if (part.ValueKind != JsonValueKind.Object) throw new ApiException(400, "invalid message format");
        switch (JsonFields.Get(part, "type") is { ValueKind: JsonValueKind.String } type ? type.GetString() : null)
        {
            case "text":
                return JsonFields.Get(part, "text") is { ValueKind: JsonValueKind.String } text ? text.GetString()!.Length : 0;
            case "image_url":
                var url = JsonFields.Get(part, "image_url") switch
                {
                    { ValueKind: JsonValueKind.String } s => s.GetString(),
                    { ValueKind: JsonValueKind.Object } o => JsonFields.Get(o, "url") is { ValueKind: JsonValueKind.String } u ? u.GetString() : null,
                    _ => null,
                };
                CheckImageUrl(url ?? "");
                return 0;
            default:
                throw new ApiException(400, "invalid message format");
        }
    }

    private static void CheckImageUrl(string url)
    {
        if (url.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || url.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            throw new ApiException(400, "image URLs are not currently supported, please use base64 encoded data instead");
        }
        var prefix = ImagePrefixes.FirstOrDefault(p => url.StartsWith(p, StringComparison.Ordinal));
        if (prefix is null || !Base64.IsValid(url.AsSpan(prefix.Length))) throw new ApiException(400, "invalid image input");
    }

    private static void CheckToolCalls(JsonElement message)
    {
        if (JsonFields.Get(message, "tool_calls") is not { ValueKind: JsonValueKind.Array } calls) return;
        foreach (var call in calls.EnumerateArray())
        {
            if (JsonFields.Get(call, "function") is not { ValueKind: JsonValueKind.Object } function) continue;
            if (JsonFields.Get(function, "arguments") is not { ValueKind: JsonValueKind.String } arguments) continue;
            try
            {
                using var _ = JsonDocument.Parse(arguments.GetString()!);
            }
            catch (JsonException)
            {
                throw new ApiException(400, "invalid tool call arguments");
            }
        }
    }
}
