using System.Text.Json;
using LlmRouter.Errors;

namespace LlmRouter.OpenAi;

/// <summary>Typed reads of request fields that fail with a 400 naming the field.</summary>
internal static class Fields
{
    public static bool TryGet(JsonElement obj, string name, out JsonElement value)
    {
        if (obj.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null) return true;
        value = default;
        return false;
    }

    public static string? String(JsonElement obj, string name, string? param = null)
    {
        if (!TryGet(obj, name, out var value)) return null;
        return value.ValueKind == JsonValueKind.String ? value.GetString() : throw WrongType(param ?? name, "a string", value);
    }

    public static string RequiredString(JsonElement obj, string name, string? param = null)
    {
        var value = String(obj, name, param);
        if (string.IsNullOrEmpty(value)) throw Missing(param ?? name);
        return value;
    }

    public static bool? Bool(JsonElement obj, string name)
    {
        if (!TryGet(obj, name, out var value)) return null;
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw WrongType(name, "a boolean", value),
        };
    }

    public static long? Integer(JsonElement obj, string name, long min = long.MinValue, string? param = null, long max = long.MaxValue)
    {
        if (!TryGet(obj, name, out var value)) return null;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var number)) throw WrongType(param ?? name, "an integer", value);
        if (number < min) throw new ApiErrorException(ApiError.InvalidRequest($"'{param ?? name}' must be at least {min}.", param ?? name));
        if (number > max) throw new ApiErrorException(ApiError.InvalidRequest($"'{param ?? name}' must be at most {max}.", param ?? name));
        return number;
    }

    /// <summary>A JSON number that fits a double: 1e400 parses as infinity, which no JSON can carry on.</summary>
    public static double? Number(JsonElement obj, string name)
    {
        if (!TryGet(obj, name, out var value)) return null;
        if (value.ValueKind != JsonValueKind.Number) throw WrongType(name, "a number", value);
        var number = value.GetDouble();
        return double.IsFinite(number) ? number : throw new ApiErrorException(ApiError.InvalidRequest($"'{name}' is too large a number.", name));
    }

    public static JsonElement? Array(JsonElement obj, string name, string? param = null)
    {
        if (!TryGet(obj, name, out var value)) return null;
        return value.ValueKind == JsonValueKind.Array ? value : throw WrongType(param ?? name, "an array", value);
    }

    public static JsonElement? Object(JsonElement obj, string name, string? param = null)
    {
        if (!TryGet(obj, name, out var value)) return null;
        return value.ValueKind == JsonValueKind.Object ? value : throw WrongType(param ?? name, "an object", value);
    }

    public static ApiErrorException Missing(string param) =>
        new(ApiError.InvalidRequest($"Missing required parameter: '{param}'.", param));

    public static ApiErrorException WrongType(string param, string expected, JsonElement value) =>
        new(ApiError.InvalidRequest($"Invalid type for '{param}': expected {expected}, but got {Describe(value.ValueKind)}.", param));

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };
}
