using System.Text.Json;
using LlmRouter.Backends;
using LlmRouter.Errors;

namespace LlmRouter.OpenAi;

/// <summary>What the router itself needs from an OpenAI request; the rest is translated by the backend.</summary>
internal sealed record ClientRequest(Operation Operation, string Model, bool Stream, bool IncludeUsage, long? MaxTokens, string? User)
{
    /// <summary>
    /// The most an answer may be asked for: no model comes near it, and key limits count tokens in Redis, whose Lua
    /// numbers are doubles (a token count must stay an exact integer there, prompt and reservations added).
    /// </summary>
    public const long MaxAnswerTokens = int.MaxValue;

    /// <summary>The longest model name a request may send (config's names are logical names, far shorter).</summary>
    public const int MaxModelName = 256;

    public static ClientRequest Parse(Operation operation, JsonElement root)
    {
        var model = Fields.RequiredString(root, "model");
        // Even an unknown name goes into the usage row of its 404: a long or control-laden one is refused before that.
        if (model.Length > MaxModelName || model.AsSpan().ContainsAnyInRange('\0', '\u001f') || model.Contains('\u007f', StringComparison.Ordinal))
            throw new ApiErrorException(ApiError.InvalidRequest($"'model' is not a model name (at most {MaxModelName} characters, none of them control characters).", "model"));
        var stream = operation != Operation.Embedding && (Fields.Bool(root, "stream") ?? false);
        var includeUsage = false;
        if (Fields.Object(root, "stream_options") is { } options)
        {
            includeUsage = Fields.Bool(options, "include_usage") ?? false;
        }
        long? maxTokens = null;
        if (operation != Operation.Embedding)
        {
            maxTokens = Fields.Integer(root, "max_completion_tokens", min: 1, max: MaxAnswerTokens) ?? Fields.Integer(root, "max_tokens", min: 1, max: MaxAnswerTokens);
        }
        switch (operation)
        {
            case Operation.Chat:
                var messages = Fields.Array(root, "messages") ?? throw Fields.Missing("messages");
                if (messages.GetArrayLength() == 0)
                    throw new ApiErrorException(ApiError.InvalidRequest("'messages' must contain at least one message.", "messages"));
                break;
            case Operation.Completion:
                if (!Fields.TryGet(root, "prompt", out _)) throw Fields.Missing("prompt");
                break;
            case Operation.Embedding:
                if (!Fields.TryGet(root, "input", out _)) throw Fields.Missing("input");
                break;
        }
        return new ClientRequest(operation, model, stream, includeUsage, maxTokens, Fields.String(root, "user"));
    }
}
