using System.Diagnostics;

namespace OllamaSimulator.Recording;

/// <summary>
/// Reads the body once, records every request outside <c>/_sim/</c>, and settles its outcome if the handler did not:
/// completed, or cancelled when the client went away (exceptions from writing to a closed connection end here).
/// </summary>
internal sealed class RecordingMiddleware(RequestDelegate next, SimState state, IHostApplicationLifetime lifetime)
{
    public async Task InvokeAsync(HttpContext ctx)
    {
        var path = ctx.Request.Path.Value ?? "/";
        if (path.StartsWith("/_sim/", StringComparison.Ordinal))
        {
            await next(ctx);
            return;
        }

        var start = Stopwatch.GetTimestamp();
        byte[] body;
        try
        {
            body = await ReadBodyAsync(ctx.Request, ctx.RequestAborted);
        }
        catch (Exception) when (ctx.RequestAborted.IsCancellationRequested)
        {
            return;
        }

        var generation = IsGeneration(ctx.Request.Method, path);
        var record = state.Log.Begin(ctx.Request, body, generation);
        ctx.Features.Set(new SimRequest(record, body, start));

        // A hung or held stream must not delay shutdown: abort it so the process exits at once.
        using var onStopping = generation
            ? lifetime.ApplicationStopping.Register(static c => ((HttpContext)c!).Abort(), ctx)
            : default;
        try
        {
            await next(ctx);
            var aborted = ctx.RequestAborted.IsCancellationRequested;
            state.Log.Finish(record, aborted ? Outcome.Cancelled : Outcome.Completed, aborted ? 499 : ctx.Response.StatusCode);
        }
        catch (Exception e) when (ctx.RequestAborted.IsCancellationRequested || e is OperationCanceledException or IOException)
        {
            // 499 is what Ollama logs when the client leaves; the client never sees it.
            state.Log.Finish(record, Outcome.Cancelled, 499);
        }
        catch
        {
            state.Log.Finish(record, Outcome.Faulted, 500);
            throw;
        }
    }

    private static bool IsGeneration(string method, string path) =>
        HttpMethods.IsPost(method) && path is "/api/chat" or "/api/generate" or "/api/embed" or "/api/embeddings" or "/v1/chat/completions";

    private static async Task<byte[]> ReadBodyAsync(HttpRequest request, CancellationToken ct)
    {
        if (request.ContentLength == 0) return [];
        using var buffer = new MemoryStream(request.ContentLength is > 0 and < int.MaxValue ? (int)request.ContentLength : 0);
        await request.Body.CopyToAsync(buffer, ct);
        return buffer.Length == 0 ? [] : buffer.ToArray();
    }
}
