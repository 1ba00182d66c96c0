using System.Globalization;
using LlmRouter.Hosting;
using LlmRouter.Routing;

namespace LlmRouter.Completions;

internal static class RoutingHeaders
{
    /// <summary>Which deployment served, after how many attempts, through which fallback; and the key's rate limits.</summary>
    public static void Apply<T>(HttpContext context, RoutedCall call, Routed<T> routed, DateTimeOffset now)
    {
        var headers = context.Response.Headers;
        headers[RouterHeaders.Backend] = routed.Deployment.Id;
        headers[RouterHeaders.Attempts] = routed.Attempts < AttemptCounts.Length ? AttemptCounts[routed.Attempts] : routed.Attempts.ToString(CultureInfo.InvariantCulture);
        if (routed.ServedModel != call.Model) headers[RouterHeaders.Fallback] = routed.ServedModel;
        RateLimitHeaders.Apply(headers, call.Key, routed.Admission, now);
    }

    private static readonly string[] AttemptCounts = [.. Enumerable.Range(0, 10).Select(i => i.ToString(CultureInfo.InvariantCulture))];
}
