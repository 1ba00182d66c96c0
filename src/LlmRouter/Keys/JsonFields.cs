using System.Globalization;
using System.Text.Json;
using LlmRouter.Errors;

namespace LlmRouter.Keys;

/// <summary>Typed reads of one JSON field; a wrong type or range is a 400 that names the field.</summary>
internal static class JsonFields
{
    public static ApiErrorException Invalid(string field, string message) => new(ApiError.InvalidRequest(message, field));

    public static long? NonNegativeLong(JsonElement value, string field)
    {
        if (value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var number))
            throw Invalid(field, $"'{field}' must be a whole number or null.");
        if (number < 0) throw Invalid(field, $"'{field}' must not be negative.");
        return number;
    }

    public static int? NonNegativeInt(JsonElement value, string field)
    {
        var number = NonNegativeLong(value, field);
        if (number > int.MaxValue) throw Invalid(field, $"'{field}' must be at most {int.MaxValue}.");
        return (int?)number;
    }

    public static decimal? NonNegativeDecimal(JsonElement value, string field)
    {
        // LiteLLM's UI sends "" for "no budget".
        if (value.ValueKind == JsonValueKind.Null || value.ValueKind == JsonValueKind.String && value.GetString() == "") return null;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDecimal(out var number))
            throw Invalid(field, $"'{field}' must be a number or null.");
        if (number < 0) throw Invalid(field, $"'{field}' must not be negative.");
        if (number >= 100_000_000_000_000m) throw Invalid(field, $"'{field}' is too large.");
        return number;
    }

    public static bool Bool(JsonElement value, string field) => value.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw Invalid(field, $"'{field}' must be true or false."),
    };

    public static string? OptionalString(JsonElement value, string field, int maxLength = 256)
    {
        if (value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind != JsonValueKind.String) throw Invalid(field, $"'{field}' must be a string or null.");
        var text = value.GetString()!;
        if (text.Length > maxLength) throw Invalid(field, $"'{field}' must be at most {maxLength} characters.");
        return text.Length == 0 ? null : text;
    }

    public static string RequiredString(JsonElement value, string field)
    {
        if (value.ValueKind != JsonValueKind.String || value.GetString() is not { Length: > 0 } text)
            throw Invalid(field, $"'{field}' must be a non-empty string.");
        return text;
    }

    /// <summary><c>"30s"</c>, <c>"1h"</c>, <c>"30d"</c> (LiteLLM's form) or a whole number of seconds; null = none.</summary>
    public static TimeSpan? Duration(JsonElement value, string field)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Null:
                return null;
            case JsonValueKind.String when Durations.TryParse(value.GetString()!, out var parsed):
                return parsed;
            case JsonValueKind.Number when value.TryGetInt64(out var seconds) && seconds > 0 && seconds < 100L * 365 * 86400:
                return TimeSpan.FromSeconds(seconds);
            default:
                throw Invalid(field, $"'{field}' must be a duration such as \"30s\", \"1h\", \"1d\" or \"30d\", a positive number of seconds, or null.");
        }
    }

    public static DateTimeOffset? Timestamp(JsonElement value, string field)
    {
        if (value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind == JsonValueKind.String &&
            DateTimeOffset.TryParse(value.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time))
            return time.ToUniversalTime();
        throw Invalid(field, $"'{field}' must be an ISO 8601 timestamp such as \"2027-01-31T00:00:00Z\", or null.");
    }

    /// <summary>A JSON object, kept as text for the jsonb column; null = <c>{}</c>.</summary>
    public static string Object(JsonElement value, string field)
    {
        if (value.ValueKind == JsonValueKind.Null) return "{}";
        if (value.ValueKind != JsonValueKind.Object) throw Invalid(field, $"'{field}' must be a JSON object or null.");
        return value.GetRawText();
    }
}
