using System.Text.Json;

namespace OllamaSimulator.Http;

/// <summary>
/// Typed reads of request fields. A missing or null field is absent; a field of the wrong JSON type fails with
/// Go's unmarshal message, as Ollama answers it (400).
/// </summary>
internal static class JsonFields
{
    public static string? String(JsonElement obj, string name, string goPath) =>
        Get(obj, name) is { } v ? v.ValueKind == JsonValueKind.String ? v.GetString() : throw TypeError(v, goPath, "string") : null;

    public static bool? Bool(JsonElement obj, string name, string goPath) =>
        Get(obj, name) is { } v ? v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw TypeError(v, goPath, "bool"),
        } : null;

    public static int? Int(JsonElement obj, string name, string goPath)
    {
        if (Get(obj, name) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Number) throw TypeError(v, goPath, "int");
        if (v.TryGetInt32(out var i)) return i;
        if (v.TryGetDouble(out var d) && d == Math.Floor(d)) return d > int.MaxValue ? int.MaxValue : d < int.MinValue ? int.MinValue : (int)d;
        throw new ApiException(400, $"json: cannot unmarshal number {v.GetRawText()} into Go struct field {goPath} of type int");
    }

    public static JsonElement? Array(JsonElement obj, string name, string goPath) =>
        Get(obj, name) is { } v ? v.ValueKind == JsonValueKind.Array ? v : throw TypeError(v, goPath, "[]" + goPath.Split('.')[^1]) : null;

    public static JsonElement? Object(JsonElement obj, string name, string goPath) =>
        Get(obj, name) is { } v ? v.ValueKind == JsonValueKind.Object ? v : throw TypeError(v, goPath, "map[string]interface {}") : null;

    /// <summary>The field, or null when it is missing or JSON null (Go leaves the zero value then).</summary>
    public static JsonElement? Get(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public static ApiException TypeError(JsonElement value, string goPath, string goType) =>
        new(400, $"json: cannot unmarshal {GoKind(value.ValueKind)} into Go struct field {goPath} of type {goType}");

    public static string GoKind(JsonValueKind kind) => kind switch
    {
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "bool",
        JsonValueKind.Array => "array",
        JsonValueKind.Object => "object",
        _ => "null",
    };
}
