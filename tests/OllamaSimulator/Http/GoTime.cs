using System.Globalization;

namespace OllamaSimulator.Http;

/// <summary>
/// Go's RFC 3339 timestamps: trailing fractional zeros dropped (the "F" specifiers do the same), <c>Z</c> for UTC.
/// </summary>
internal static class GoTime
{
    private const string UtcFormat = "yyyy-MM-ddTHH:mm:ss.FFFFFFFZ";

    /// <summary>Formats "now" in UTC into <paramref name="utf8"/> (at least 32 bytes), allocation-free for the per-line hot path.</summary>
    public static int FormatUtcNow(Span<byte> utf8)
    {
        DateTime.UtcNow.TryFormat(utf8, out var written, UtcFormat, CultureInfo.InvariantCulture);
        return written;
    }

    public static string Utc(DateTime utc) => utc.ToString(UtcFormat, CultureInfo.InvariantCulture);

    /// <summary>Local time with offset, as Ollama writes <c>modified_at</c> and <c>expires_at</c>.</summary>
    public static string Local(DateTimeOffset t)
    {
        t = t.ToLocalTime();
        return t.Offset == TimeSpan.Zero
            ? t.ToString("yyyy-MM-ddTHH:mm:ss.FFFFFFF", CultureInfo.InvariantCulture) + "Z"
            : t.ToString("yyyy-MM-ddTHH:mm:ss.FFFFFFFzzz", CultureInfo.InvariantCulture);
    }
}
