using System.Diagnostics;

namespace LlmRouter.Hosting;

/// <summary>
/// One line per request at Debug, in place of the framework's request logs (which print raw URLs and are capped by
/// <see cref="LogRedaction"/>): method, path, query with secrets redacted, status and time. Costs one IsEnabled check when off.
/// </summary>
internal sealed partial class RequestLogMiddleware(RequestDelegate next, ILoggerFactory loggers)
{
    private readonly ILogger _logger = loggers.CreateLogger("LlmRouter.Requests");

    /// <summary>Not async when logging is off, so it adds no frame to every request's await chain.</summary>
    public Task InvokeAsync(HttpContext context) => _logger.IsEnabled(LogLevel.Debug) ? LogAsync(context) : next(context);

    private async Task LogAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            await next(context);
        }
        finally
        {
            var request = context.Request;
            Completed(_logger, request.Method, LogRedaction.RedactPath(request.Path), LogRedaction.RedactQuery(request.QueryString), context.Response.StatusCode,
                Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
    }

    [LoggerMessage(1, LogLevel.Debug, "{Method} {Path}{Query} -> {Status} in {ElapsedMs:F1} ms")]
    private static partial void Completed(ILogger logger, string method, string path, string query, int status, double elapsedMs);
}
