using System.Text.Json;
using OllamaSimulator.Generation;
using OllamaSimulator.Http;
using OllamaSimulator.Knobs;
using OllamaSimulator.Models;

namespace OllamaSimulator.Native;

/// <summary>Validates a <c>/api/chat</c> body in the order Ollama's ChatHandler does and reduces it to a job.</summary>
internal static class ChatRequestReader
{
    public static GenerationJob Read(JsonElement root, SimState state)
    {
        var model = JsonFields.String(root, "model", "ChatRequest.model") ?? "";
        var stream = JsonFields.Bool(root, "stream", "ChatRequest.stream") ?? true;
        var messages = JsonFields.Array(root, "messages", "ChatRequest.messages");
        var tools = JsonFields.Array(root, "tools", "ChatRequest.tools");
        var (count, characters, lastRole) = ReadMessages(messages);
        var topLogprobs = NativeFields.TopLogprobs(root, "ChatRequest");
        if (!ModelName.IsValid(model)) throw new ApiException(400, "model is required");
        var think = NativeFields.Think(root);
        var keepAliveZero = KeepAlive.IsZero(root);
        var numPredict = NativeFields.NumPredict(root, "ChatRequest");

        var entry = state.Models.Find(model) ?? throw new ApiException(404, $"model '{model}' not found");
        if (count == 0 && keepAliveZero)
        {
            return new GenerationJob(model, entry, stream, numPredict, 1, null, LoadOnly: true, UnloadAfter: true);
        }

        var hasTools = tools is { } t && t.GetArrayLength() > 0;
        if (!entry.Can("completion")) throw new ApiException(400, $"\"{model}\" does not support chat");
        if (hasTools && !entry.Can("tools")) throw new ApiException(400, $"{ModelName.Canonical(model)} does not support tools");
        if (think && !entry.Can("thinking")) throw new ApiException(400, $"\"{model}\" does not support thinking");

        // After a tool result the model answers in words, as a real one would.
        var plan = hasTools && state.Knobs.Current.ToolCalls == ToolCallMode.Auto && lastRole != "tool"
            ? NativeFields.ToolPlan(tools!.Value, "ChatRequest.tools")
            : null;
        return new GenerationJob(model, entry, stream, numPredict, GenerationJob.PromptTokens(characters), plan, count == 0, keepAliveZero)
        {
            TopLogprobs = topLogprobs,
        };
    }

    private static (int Count, long Characters, string LastRole) ReadMessages(JsonElement? messages)
    {
        if (messages is not { } list) return (0, 0, "");
        long characters = 0;
        var lastRole = "";
        foreach (var message in list.EnumerateArray())
        {
            if (message.ValueKind != JsonValueKind.Object) throw JsonFields.TypeError(message, "ChatRequest.messages", "api.Message");
            lastRole = (JsonFields.String(message, "role", "ChatRequest.messages.role") ?? "").ToLowerInvariant();
            characters += (JsonFields.String(message, "content", "ChatRequest.messages.content") ?? "").Length;
            NativeFields.CheckImages(message, "ChatRequest.messages.images");
            CheckToolCalls(message);
        }
        return (list.GetArrayLength(), characters, lastRole);
    }

    // A router that forgets to turn OpenAI's string arguments into an object gets Ollama's 400, not a silent pass.
    private static void CheckToolCalls(JsonElement message)
    {
        if (JsonFields.Array(message, "tool_calls", "ChatRequest.messages.tool_calls") is not { } calls) return;
        foreach (var call in calls.EnumerateArray())
        {
            if (call.ValueKind != JsonValueKind.Object) throw JsonFields.TypeError(call, "ChatRequest.messages.tool_calls", "api.ToolCall");
            if (JsonFields.Object(call, "function", "ChatRequest.messages.tool_calls.function") is not { } function) continue;
            if (JsonFields.Get(function, "arguments") is { ValueKind: not JsonValueKind.Object } arguments)
            {
                throw JsonFields.TypeError(arguments, "ChatRequest.messages.tool_calls.function.arguments", "api.ToolCallFunctionArguments");
            }
        }
    }
}
