using System.Globalization;
using LlmRouter.Keys;
using LlmRouter.LiveState;

namespace LlmRouter.Routing;

/// <summary>OpenAI's <c>x-ratelimit-*</c> headers for a key with rpm/tpm limits.</summary>
internal static class RateLimitHeaders
{
    // The reset text is the same for every request within a millisecond: format it once per millisecond, not per request.
    private static ResetText? _lastReset;

    /// <summary>For an error response (429), whose headers travel with the error.</summary>
    public static IReadOnlyDictionary<string, string>? For(KeyRecord? key, AdmissionResult admission, DateTimeOffset now)
    {
        if (key is null || (key.RpmLimit is null && key.TpmLimit is null)) return null;
        var headers = new Dictionary<string, string>(6, StringComparer.OrdinalIgnoreCase);
        Write(static (target, name, value) => target[name] = value, headers, key, admission, now);
        return headers;
    }

    /// <summary>Straight onto a successful response: no dictionary per request.</summary>
    public static void Apply(IHeaderDictionary headers, KeyRecord? key, AdmissionResult admission, DateTimeOffset now)
    {
        if (key is null || (key.RpmLimit is null && key.TpmLimit is null)) return;
        Write(static (target, name, value) => target[name] = value, headers, key, admission, now);
    }

    /// <param name="set">Static, so no closure per request.</param>
    private static void Write<TTarget>(Action<TTarget, string, string> set, TTarget target, KeyRecord key, AdmissionResult admission, DateTimeOffset now)
    {
        var reset = Seconds(TimeBuckets.NextMinute(now) - now);
        if (key.RpmLimit is { } rpm)
        {
            set(target, "x-ratelimit-limit-requests", rpm.ToString(CultureInfo.InvariantCulture));
            set(target, "x-ratelimit-remaining-requests", (admission.RemainingRequests ?? rpm).ToString(CultureInfo.InvariantCulture));
            set(target, "x-ratelimit-reset-requests", reset);
        }
        if (key.TpmLimit is { } tpm)
        {
            set(target, "x-ratelimit-limit-tokens", tpm.ToString(CultureInfo.InvariantCulture));
            set(target, "x-ratelimit-remaining-tokens", (admission.RemainingTokens ?? tpm).ToString(CultureInfo.InvariantCulture));
            set(target, "x-ratelimit-reset-tokens", reset);
        }
    }

    private static string Seconds(TimeSpan span)
    {
        var millis = (long)Math.Round(Math.Max(0, span.TotalMilliseconds));
        if (Volatile.Read(ref _lastReset) is { } last && last.Millis == millis) return last.Text;
        var text = $"{millis / 1000.0:0.###}s";
        Volatile.Write(ref _lastReset, new ResetText(millis, text));
        return text;
    }

    private sealed record ResetText(long Millis, string Text);
}
