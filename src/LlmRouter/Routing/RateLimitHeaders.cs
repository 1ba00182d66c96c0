using System.Globalization;
using LlmRouter.Keys;
using LlmRouter.LiveState;

namespace LlmRouter.Routing;

/// <summary>OpenAI's <c>x-ratelimit-*</c> headers for a key with rpm/tpm limits.</summary>
internal static class RateLimitHeaders
{
    /// <summary>For an error response (429), whose headers travel with the error.</summary>
    public static IReadOnlyDictionary<string, string>? For(KeyRecord? key, AdmissionResult admission, DateTimeOffset now)
    {
        if (key is null || (key.RpmLimit is null && key.TpmLimit is null)) return null;
        var headers = new Dictionary<string, string>(6, StringComparer.OrdinalIgnoreCase);
        Write((name, value) => headers[name] = value, key, admission, now);
        return headers;
    }

    /// <summary>Straight onto a successful response: no dictionary per request.</summary>
    public static void Apply(IHeaderDictionary headers, KeyRecord? key, AdmissionResult admission, DateTimeOffset now)
    {
        if (key is null || (key.RpmLimit is null && key.TpmLimit is null)) return;
        Write((name, value) => headers[name] = value, key, admission, now);
    }

    private static void Write(Action<string, string> set, KeyRecord key, AdmissionResult admission, DateTimeOffset now)
    {
        var reset = Seconds(TimeBuckets.NextMinute(now) - now);
        if (key.RpmLimit is { } rpm)
        {
            set("x-ratelimit-limit-requests", rpm.ToString(CultureInfo.InvariantCulture));
            set("x-ratelimit-remaining-requests", (admission.RemainingRequests ?? rpm).ToString(CultureInfo.InvariantCulture));
            set("x-ratelimit-reset-requests", reset);
        }
        if (key.TpmLimit is { } tpm)
        {
            set("x-ratelimit-limit-tokens", tpm.ToString(CultureInfo.InvariantCulture));
            set("x-ratelimit-remaining-tokens", (admission.RemainingTokens ?? tpm).ToString(CultureInfo.InvariantCulture));
            set("x-ratelimit-reset-tokens", reset);
        }
    }

    private static string Seconds(TimeSpan span) => $"{Math.Max(0, span.TotalSeconds):0.###}s";
}
