using System.Globalization;
using System.Text.Json;
using OllamaSimulator.Http;

namespace OllamaSimulator.Native;

/// <summary>
/// <c>keep_alive</c>: a number of seconds or a Go duration string ("5m", "1h30m"); negative means forever.
/// Only "is it zero" matters here (zero unloads), but a malformed string is a 400, as <c>time.ParseDuration</c> makes it.
/// </summary>
internal static class KeepAlive
{
    public static bool IsZero(JsonElement root)
    {
        if (JsonFields.Get(root, "keep_alive") is not { } value) return false;
        return value.ValueKind switch
        {
            JsonValueKind.Number => value.GetDouble() == 0,
            JsonValueKind.String => ParseGoDuration(value.GetString()!) == 0,
            _ => throw new ApiException(400, $"Unsupported type: '{JsonFields.GoKind(value.ValueKind)}'"),
        };
    }

    /// <summary>Go's <c>time.ParseDuration</c>, returning seconds; throws with Go's messages.</summary>
    public static double ParseGoDuration(string text)
    {
        var s = text.AsSpan();
        var sign = 1.0;
        if (s.Length > 0 && (s[0] == '-' || s[0] == '+'))
        {
            if (s[0] == '-') sign = -1;
            s = s[1..];
        }
        if (s is "0") return 0;
        if (s.IsEmpty) throw Invalid(text);

        var total = 0.0;
        while (!s.IsEmpty)
        {
            var n = 0;
            while (n < s.Length && (char.IsAsciiDigit(s[n]) || s[n] == '.')) n++;
            if (n == 0 || !double.TryParse(s[..n], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number)) throw Invalid(text);
            s = s[n..];

            var u = 0;
            while (u < s.Length && !char.IsAsciiDigit(s[u]) && s[u] != '.') u++;
            if (u == 0) throw new ApiException(400, $"time: missing unit in duration \"{text}\"");
            var seconds = s[..u] switch
            {
                "ns" => 1e-9,
                "us" or "µs" or "μs" => 1e-6,
                "ms" => 1e-3,
                "s" => 1,
                "m" => 60,
                "h" => 3600,
                _ => throw new ApiException(400, $"time: unknown unit \"{s[..u]}\" in duration \"{text}\""),
            };
            total += number * seconds;
            s = s[u..];
        }
        return sign * total;
    }

    private static ApiException Invalid(string text) => new(400, $"time: invalid duration \"{text}\"");
}
