using System.Globalization;
using LlmRouter.Keys;
using LlmRouter.LiveState;

namespace LlmRouter.Routing;

/// <summary>OpenAI's <c>x-ratelimit-*</c> headers for a key with rpm/tpm limits.</summary>
internal static class RateLimitHeaders
{
    public static IReadOnlyDictionary<string, string>? For(KeyRecord? key, AdmissionResult admission, DateTimeOffset now)
    {
        if (key is null || (key.RpmLimit is null && key.TpmLimit is null)) return null;
        var reset = Seconds(TimeBuckets.NextMinute(now) - now);
        var headers = new Dictionary<string, string>(6, StringComparer.OrdinalIgnoreCase);
        if (key.RpmLimit is { } rpm)
        {
            headers["x-ratelimit-limit-requests"] = rpm.ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-remaining-requests"] = (admission.RemainingRequests ?? rpm).ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-reset-requests"] = reset;
        }
        if (key.TpmLimit is { } tpm)
        {
            headers["x-ratelimit-limit-tokens"] = tpm.ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-remaining-tokens"] = (admission.RemainingTokens ?? tpm).ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-reset-tokens"] = reset;
        }
        return headers;
    }

    private static string Seconds(TimeSpan span) => $"{Math.Max(0, span.TotalSeconds):0.###}s";
}
