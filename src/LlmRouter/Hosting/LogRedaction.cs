using Microsoft.Extensions.Options;

namespace LlmRouter.Hosting;

/// <summary>
/// Keeps request URLs, which may carry a key (<c>/key/info?key=sk-…</c>), out of the framework's logs whatever the
/// Logging configuration says: ASP.NET Core's hosting diagnostics print every URL with its query at Information.
/// The router's own <see cref="RequestLogMiddleware"/> logs requests instead, with secrets redacted.
/// </summary>
internal static class LogRedaction
{
    /// <summary>The framework categories that can print a request's URL (hosting diagnostics, Kestrel's bad-request messages, HTTP logging).</summary>
    public const string GuardedCategory = "Microsoft.AspNetCore";

    public static ILoggingBuilder KeepRequestUrlsOutOfFrameworkLogs(this ILoggingBuilder logging)
    {
        // PostConfigure runs after every configuration source, so no Logging:LogLevel setting can undo it.
        logging.Services.AddSingleton<IPostConfigureOptions<LoggerFilterOptions>>(new PostConfigureOptions<LoggerFilterOptions>(Options.DefaultName, Enforce));
        return logging;
    }

    /// <summary>
    /// Adds, for every rule that could let a guarded category log below Warning, a rule at least as specific that caps it
    /// at Warning: the rule selector prefers provider-specific rules, then longer categories, then later rules.
    /// </summary>
    internal static void Enforce(LoggerFilterOptions options)
    {
        var caps = new List<LoggerFilterRule> { new(null, GuardedCategory, LogLevel.Warning, null) };
        foreach (var rule in options.Rules)
        {
            if (rule.LogLevel is >= LogLevel.Warning) continue;
            var category = rule.CategoryName;
            if (category is null || category.Contains('*') || GuardedCategory.StartsWith(category, StringComparison.OrdinalIgnoreCase))
                caps.Add(new LoggerFilterRule(rule.ProviderName, GuardedCategory, LogLevel.Warning, null));
            else if (category.StartsWith(GuardedCategory, StringComparison.OrdinalIgnoreCase))
                caps.Add(new LoggerFilterRule(rule.ProviderName, category, LogLevel.Warning, null));
        }
        foreach (var cap in caps) options.Rules.Add(cap);
    }

    /// <summary>The path with any segment that looks like a secret replaced (LiteLLM's <c>/key/{key}/regenerate</c> takes one).</summary>
    public static string RedactPath(PathString path)
    {
        var text = path.Value ?? "";
        if (!text.Contains("sk-", StringComparison.OrdinalIgnoreCase)) return text;
        var segments = text.Split('/');
        for (var i = 0; i < segments.Length; i++)
        {
            if (segments[i].Contains("sk-", StringComparison.OrdinalIgnoreCase)) segments[i] = "[redacted]";
        }
        return string.Join('/', segments);
    }

    /// <summary>The query string with the value of every parameter that names or looks like a secret replaced.</summary>
    public static string RedactQuery(QueryString query)
    {
        if (!query.HasValue) return "";
        var parts = query.Value!.TrimStart('?').Split('&');
        for (var i = 0; i < parts.Length; i++)
        {
            var equals = parts[i].IndexOf('=');
            if (equals < 0) continue;
            var name = Uri.UnescapeDataString(parts[i][..equals]);
            var value = Uri.UnescapeDataString(parts[i][(equals + 1)..].Replace('+', ' '));
            if (IsSecretName(name) || value.Contains("sk-", StringComparison.OrdinalIgnoreCase)) parts[i] = parts[i][..equals] + "=[redacted]";
        }
        return "?" + string.Join('&', parts);
    }

    private static bool IsSecretName(string name) =>
        name.Equals("key", StringComparison.OrdinalIgnoreCase) || name.Contains("api_key", StringComparison.OrdinalIgnoreCase) ||
        name.Contains("api-key", StringComparison.OrdinalIgnoreCase) || name.Contains("token", StringComparison.OrdinalIgnoreCase) ||
        name.Contains("secret", StringComparison.OrdinalIgnoreCase) || name.Contains("password", StringComparison.OrdinalIgnoreCase);
}
