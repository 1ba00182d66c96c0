using System.Globalization;

namespace LlmRouter.Keys;

/// <summary>LiteLLM's duration strings: <c>30s</c>, <c>10m</c>, <c>1h</c>, <c>1d</c>, <c>30d</c>, <c>2w</c>.</summary>
internal static class Durations
{
    /// <summary>The longest duration a key setting takes, in seconds: 100 years, as text or as a number.</summary>
    public const long MaxSeconds = 100L * 365 * 86400;

    public static bool TryParse(string text, out TimeSpan duration)
    {
        duration = default;
        if (text.Length < 2) return false;
        var unit = text[^1];
        var seconds = unit switch { 's' => 1L, 'm' => 60L, 'h' => 3600L, 'd' => 86400L, 'w' => 7 * 86400L, _ => 0L };
        if (seconds == 0) return false;
        if (!long.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count <= 0) return false;
        if (count > MaxSeconds / seconds) return false;
        duration = TimeSpan.FromSeconds(count * seconds);
        return true;
    }

    /// <summary>The largest whole unit: 30 days is <c>30d</c>, 90 minutes is <c>90m</c>.</summary>
    public static string Format(TimeSpan duration)
    {
        var seconds = (long)duration.TotalSeconds;
        if (seconds % 86400 == 0) return $"{seconds / 86400}d";
        if (seconds % 3600 == 0) return $"{seconds / 3600}h";
        if (seconds % 60 == 0) return $"{seconds / 60}m";
        return $"{seconds}s";
    }
}
