using System.Globalization;
using System.Text.Json;
using LlmRouter.Errors;

namespace LlmRouter.Keys;

/// <summary>Typed reads of one JSON field; a wrong type or range is a 400 that names the field.</summary>
internal static class JsonFields
{
    public static ApiErrorException Invalid(string field, string message) => new(ApiError.InvalidRequest(message, field));

    /// <summary>
    /// The largest count a limit may be: live counts are kept in Redis, whose Lua numbers are doubles, exact only up to
    /// 2^53. No real limit comes near it.
    /// </summary>
    public const long MaxCount = (1L << 53) - 1;

    /// <summary>
    /// The largest budget: it is counted in millionths (micros) as a Lua double, exact up to 2^53, so 9e9 (in the
    /// prices' currency) with six decimals.
    /// </summary>
    public const decimal MaxBudget = 9_000_000_000m;

    public static long? NonNegativeLong(JsonElement value, string field)
    {
        if (value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var number))
            throw Invalid(field, $"'{field}' must be a whole number or null.");
        if (number < 0) throw Invalid(field, $"'{field}' must not be negative.");
        if (number > MaxCount) throw Invalid(field, $"'{field}' must be at most {MaxCount}.");
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
        if (value.ValueKind != JsonValueKind.Number) throw Invalid(field, $"'{field}' must be a number or null.");
        if (!value.TryGetDecimal(out var number)) throw Invalid(field, $"'{field}' is too large.");
        if (number < 0) throw Invalid(field, $"'{field}' must not be negative.");
        // Kept to the millionth, as budgets are counted, rounded up: a key gets at least what it was given (0.0000004 is
        // 0.000001, never a budget of 0), and a script's 100/3 is taken as LiteLLM takes it.
        number = decimal.Round(number, 6, MidpointRounding.ToPositiveInfinity);
        if (number > MaxBudget) throw Invalid(field, $"'{field}' must be at most {MaxBudget}.");
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
        var text = Text(value, field);
        if (text.Length > maxLength) throw Invalid(field, $"'{field}' must be at most {maxLength} characters.");
        return text.Length == 0 ? null : text;
    }

    public static string RequiredString(JsonElement value, string field)
    {
        if (value.ValueKind != JsonValueKind.String || Text(value, field) is not { Length: > 0 } text)
            throw Invalid(field, $"'{field}' must be a non-empty string.");
        return text;
    }

    /// <summary>
    /// A JSON string as text Postgres can store: not a lone half of a surrogate pair (which .NET cannot read as text)
    /// and no NUL character (which Postgres refuses in text and jsonb).
    /// </summary>
    private static string Text(JsonElement value, string field) => Storable(value, static v => v.GetString()!, field);

    /// <summary>
    /// Text read from JSON (a string value or a property name), as Postgres can store it. System.Text.Json refuses to
    /// read an escaped lone surrogate as text, so that check is the read itself.
    /// </summary>
    private static string Storable<T>(T source, Func<T, string> read, string field)
    {
        string text;
        try
        {
            text = read(source);
        }
        catch (InvalidOperationException)
        {
            throw Invalid(field, $"'{field}' must be valid Unicode text (it holds half of a surrogate pair).");
        }
        if (text.Contains('\0', StringComparison.Ordinal)) throw Invalid(field, $"'{field}' must not contain NUL characters.");
        return text;
    }

    /// <summary>Every string in <paramref name="value"/>, names included, as <see cref="Text"/> requires.</summary>
    private static void CheckTexts(JsonElement value, string field)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                Text(value, field);
                break;
            case JsonValueKind.Array:
                foreach (var item in value.EnumerateArray()) CheckTexts(item, field);
                break;
            case JsonValueKind.Object:
                foreach (var property in value.EnumerateObject())
                {
                    Storable(property, static p => p.Name, field);
                    CheckTexts(property.Value, field);
                }
                break;
        }
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
            case JsonValueKind.Number when value.TryGetInt64(out var seconds) && seconds > 0 && seconds <= Durations.MaxSeconds:
                return TimeSpan.FromSeconds(seconds);
            default:
                throw Invalid(field, $"'{field}' must be a duration such as \"30s\", \"1h\", \"1d\" or \"30d\", a positive number of seconds, or null (at most 100 years).");
        }
    }

    public static DateTimeOffset? Timestamp(JsonElement value, string field)
    {
        if (value.ValueKind == JsonValueKind.Null) return null;
        // ISO 8601 only: a date first (2027-01-31), so "1/2/2027" is not read as either of the days it might mean.
        if (value.ValueKind == JsonValueKind.String && value.GetString() is { Length: >= 10 } text && IsIsoDate(text) &&
            DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time))
            return time.ToUniversalTime();
        throw Invalid(field, $"'{field}' must be an ISO 8601 timestamp such as \"2027-01-31T00:00:00Z\", or null.");
    }

    private static bool IsIsoDate(string text) =>
        char.IsAsciiDigit(text[0]) && char.IsAsciiDigit(text[1]) && char.IsAsciiDigit(text[2]) && char.IsAsciiDigit(text[3]) && text[4] == '-'
        && char.IsAsciiDigit(text[5]) && char.IsAsciiDigit(text[6]) && text[7] == '-' && char.IsAsciiDigit(text[8]) && char.IsAsciiDigit(text[9]);

    /// <summary>A JSON object, kept as text for the jsonb column; null = <c>{}</c>.</summary>
    public static string Object(JsonElement value, string field)
    {
        if (value.ValueKind == JsonValueKind.Null) return "{}";
        if (value.ValueKind != JsonValueKind.Object) throw Invalid(field, $"'{field}' must be a JSON object or null.");
        CheckTexts(value, field);
        return value.GetRawText();
    }
}
