using System.Text;
using System.Text.Json;
using LlmRouter.Errors;
using LlmRouter.OpenAi;

namespace LlmRouter.Backends.Ollama;

/// <summary>OpenAI chat messages → Ollama messages: content parts, data-URI images, tool calls and tool results.</summary>
internal static class OllamaMessageWriter
{
    // Field paths name the culprit in a 400; built once for the first messages instead of for every message of every request.
    private static readonly string[] MessagePaths = [.. Enumerable.Range(0, 64).Select(i => $"messages[{i}]")];
    private static readonly string[] RolePaths = [.. MessagePaths.Select(p => p + ".role")];
    private static readonly string[] ToolCallsPaths = [.. MessagePaths.Select(p => p + ".tool_calls")];

    public static void WriteMessages(Utf8JsonWriter writer, JsonElement root)
    {
        var messages = root.GetProperty("messages");
        // tool_call_id → function name, so a tool result can name its tool as Ollama expects.
        Dictionary<string, string>? toolNames = null;
        writer.WriteStartArray("messages");
        var index = 0;
        foreach (var message in messages.EnumerateArray())
        {
            var i = index++;
            var at = i < MessagePaths.Length ? MessagePaths[i] : $"messages[{i}]";
            if (message.ValueKind != JsonValueKind.Object) throw Fields.WrongType(at, "an object", message);
            var role = Fields.RequiredString(message, "role", i < RolePaths.Length ? RolePaths[i] : $"{at}.role");
            role = role switch
            {
                "system" or "user" or "assistant" or "tool" => role,
                // Ollama's templates know no 'developer'; it is the system prompt by another name.
                "developer" => "system",
                "function" => "tool",
                _ => throw new ApiErrorException(ApiError.InvalidRequest(
                    $"Invalid value for '{at}.role': '{role}'. Supported: system, developer, user, assistant, tool.", $"{at}.role")),
            };
            writer.WriteStartObject();
            writer.WriteString("role", role);
            WriteContent(writer, message, at);
            if (role == "assistant" && Fields.Array(message, "tool_calls", i < ToolCallsPaths.Length ? ToolCallsPaths[i] : $"{at}.tool_calls") is { } calls)
            {
                WriteToolCalls(writer, calls, at, toolNames ??= new(StringComparer.Ordinal));
            }
            if (role == "tool")
            {
                var callId = Fields.String(message, "tool_call_id", $"{at}.tool_call_id");
                var name = Fields.String(message, "name", $"{at}.name");
                if (name is null && callId is not null && toolNames is not null) toolNames.TryGetValue(callId, out name);
                if (name is not null) writer.WriteString("tool_name", name);
                if (callId is not null) writer.WriteString("tool_call_id", callId);
            }
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
    }

    private static void WriteContent(Utf8JsonWriter writer, JsonElement message, string at)
    {
        if (!Fields.TryGet(message, "content", out var content))
        {
            writer.WriteString("content", "");
            return;
        }
        if (content.ValueKind == JsonValueKind.String)
        {
            writer.WritePropertyName("content");
            content.WriteTo(writer);
            return;
        }
        if (content.ValueKind != JsonValueKind.Array) throw Fields.WrongType($"{at}.content", "a string or an array of content parts", content);

        var text = new StringBuilder();
        List<string>? images = null;
        var part = 0;
        foreach (var item in content.EnumerateArray())
        {
            var partAt = $"{at}.content[{part++}]";
            if (item.ValueKind != JsonValueKind.Object) throw Fields.WrongType(partAt, "an object", item);
            switch (Fields.RequiredString(item, "type", $"{partAt}.type"))
            {
                case "text":
                    if (text.Length > 0) text.Append('\n');
                    text.Append(Fields.String(item, "text", $"{partAt}.text"));
                    break;
                case "image_url":
                    (images ??= []).Add(ImageBase64(item, partAt));
                    break;
                case var other:
                    throw new ApiErrorException(ApiError.InvalidRequest(
                        $"Unsupported content part type '{other}' in '{partAt}.type'. Supported: text, image_url.", $"{partAt}.type"));
            }
        }
        writer.WriteString("content", text.ToString());
        if (images is not null)
        {
            writer.WriteStartArray("images");
            foreach (var image in images) writer.WriteStringValue(image);
            writer.WriteEndArray();
        }
    }

    /// <summary>Ollama takes bare base64; it cannot fetch URLs, so only data URIs are accepted.</summary>
    private static string ImageBase64(JsonElement part, string at)
    {
        string? url = null;
        if (Fields.TryGet(part, "image_url", out var image))
        {
            url = image.ValueKind switch
            {
                JsonValueKind.String => image.GetString(),
                JsonValueKind.Object => Fields.String(image, "url", $"{at}.image_url.url"),
                _ => throw Fields.WrongType($"{at}.image_url", "an object with 'url'", image),
            };
        }
        if (string.IsNullOrEmpty(url)) throw Fields.Missing($"{at}.image_url.url");
        if (url.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || url.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
            throw new ApiErrorException(ApiError.InvalidRequest(
                "Image URLs are not supported by Ollama backends; send the image as a base64 data URI.", $"{at}.image_url.url"));
        var comma = url.IndexOf(',');
        if (!url.StartsWith("data:", StringComparison.OrdinalIgnoreCase) || comma < 0 || !url.AsSpan(0, comma).EndsWith(";base64", StringComparison.OrdinalIgnoreCase))
            throw new ApiErrorException(ApiError.InvalidRequest("Invalid image: expected a data URI such as 'data:image/png;base64,…'.", $"{at}.image_url.url"));
        return url[(comma + 1)..];
    }

    private static void WriteToolCalls(Utf8JsonWriter writer, JsonElement calls, string at, Dictionary<string, string> toolNames)
    {
        writer.WriteStartArray("tool_calls");
        var i = 0;
        foreach (var call in calls.EnumerateArray())
        {
            var callAt = $"{at}.tool_calls[{i}]";
            if (call.ValueKind != JsonValueKind.Object) throw Fields.WrongType(callAt, "an object", call);
            var function = Fields.Object(call, "function", $"{callAt}.function") ?? throw Fields.Missing($"{callAt}.function");
            var name = Fields.RequiredString(function, "name", $"{callAt}.function.name");
            var id = Fields.String(call, "id", $"{callAt}.id");
            if (id is not null) toolNames[id] = name;

            writer.WriteStartObject();
            if (id is not null) writer.WriteString("id", id);
            writer.WriteStartObject("function");
            writer.WriteNumber("index", i);
            writer.WriteString("name", name);
            writer.WritePropertyName("arguments");
            WriteArguments(writer, function, $"{callAt}.function.arguments");
            writer.WriteEndObject();
            writer.WriteEndObject();
            i++;
        }
        writer.WriteEndArray();
    }

    /// <summary>OpenAI sends arguments as a JSON string; Ollama wants the object.</summary>
    private static void WriteArguments(Utf8JsonWriter writer, JsonElement function, string param)
    {
        if (!Fields.TryGet(function, "arguments", out var arguments))
        {
            writer.WriteStartObject();
            writer.WriteEndObject();
            return;
        }
        if (arguments.ValueKind == JsonValueKind.Object)
        {
            arguments.WriteTo(writer);
            return;
        }
        if (arguments.ValueKind != JsonValueKind.String) throw Fields.WrongType(param, "a JSON string", arguments);
        var text = arguments.GetString()!;
        if (string.IsNullOrWhiteSpace(text))
        {
            writer.WriteStartObject();
            writer.WriteEndObject();
            return;
        }
        try
        {
            using var parsed = JsonDocument.Parse(text);
            if (parsed.RootElement.ValueKind != JsonValueKind.Object) throw new JsonException();
            parsed.RootElement.WriteTo(writer);
        }
        catch (JsonException)
        {
            throw new ApiErrorException(ApiError.InvalidRequest($"Invalid tool call arguments in '{param}': expected a JSON object.", param));
        }
    }
}
