using System.Buffers.Text;
using System.Text.Json;
using OllamaSimulator.Generation;
using OllamaSimulator.Http;

namespace OllamaSimulator.Native;

/// <summary>Request fields that chat and generate share, validated with Ollama's messages.</summary>
internal static class NativeFields
{
    /// <summary><c>think</c>: true/false or a level; returns whether thinking was asked for.</summary>
    public static bool Think(JsonElement root)
    {
        if (JsonFields.Get(root, "think") is not { } v) return false;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.String when v.GetString() is "high" or "medium" or "low" or "max" => true,
            _ => throw new ApiException(400, $"invalid think value: {v.GetRawText()} (must be \"high\", \"medium\", \"low\", \"max\", true, or false)"),
        };
    }

    /// <summary>The <c>top_logprobs</c> count when <c>logprobs</c> is true (0 without <c>top_logprobs</c>), else null.</summary>
    public static int? TopLogprobs(JsonElement root, string goType)
    {
        var top = JsonFields.Int(root, "top_logprobs", goType + ".top_logprobs");
        if (top is < 0 or > 20)
        {
            throw new ApiException(400, "top_logprobs must be between 0 and 20");
        }
        return JsonFields.Bool(root, "logprobs", goType + ".logprobs") == true ? top ?? 0 : null;
    }

    /// <summary><c>options.num_predict</c>, -1 (unlimited) when absent. Ollama rejects a wrong type when it schedules (500).</summary>
    public static int NumPredict(JsonElement root, string goType)
    {
        var options = JsonFields.Object(root, "options", goType + ".options");
        if (options is not { } o || JsonFields.Get(o, "num_predict") is not { } v) return -1;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out var d) || d != Math.Floor(d))
        {
            throw new ApiException(500, "option \"num_predict\" must be of type integer");
        }
        return d < 0 ? -1 : (int)Math.Min(d, int.MaxValue);
    }

    /// <summary>Images are base64 strings (Go <c>[]byte</c>), without a <c>data:</c> prefix; anything else is a 400.</summary>
    public static void CheckImages(JsonElement owner, string goPath)
    {
        if (JsonFields.Array(owner, "images", goPath) is not { } images) return;
        foreach (var image in images.EnumerateArray())
        {
            if (image.ValueKind != JsonValueKind.String) throw JsonFields.TypeError(image, goPath, "api.ImageData");
            var text = image.GetString()!;
            if (!Base64.IsValid(text))
            {
                throw new ApiException(400, $"illegal base64 data at input byte {FirstBadBase64Byte(text)}");
            }
        }
    }

    /// <summary>The tool call to answer with: the first tool's name and its required parameters.</summary>
    public static ToolCallPlan ToolPlan(JsonElement tools, string goPath)
    {
        var first = tools[0];
        if (first.ValueKind != JsonValueKind.Object) throw JsonFields.TypeError(first, goPath, "api.Tool");
        var function = JsonFields.Object(first, "function", goPath + ".function");
        var name = function is { } f ? JsonFields.String(f, "name", goPath + ".function.name") : null;
        var required = new List<string>();
        if (function is { } fn && JsonFields.Object(fn, "parameters", goPath + ".function.parameters") is { } parameters
            && JsonFields.Array(parameters, "required", goPath + ".function.parameters.required") is { } list)
        {
            foreach (var r in list.EnumerateArray())
            {
                if (r.ValueKind == JsonValueKind.String) required.Add(r.GetString()!);
            }
        }
        return new ToolCallPlan(name ?? "", required);
    }

    private static int FirstBadBase64Byte(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (!(char.IsAsciiLetterOrDigit(c) || c is '+' or '/' or '=' or '\r' or '\n')) return i;
        }
        return text.Length - text.Length % 4;
    }
}
