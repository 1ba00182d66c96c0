namespace LlmRouter.Hosting;

/// <summary>
/// Echoes the client's <c>x-request-id</c> (or makes one) on every response. The router's own id, unique even when
/// clients reuse theirs, goes into <see cref="HttpContext.TraceIdentifier"/> for logs and records.
/// </summary>
internal sealed class RequestIdMiddleware(RequestDelegate next, TimeProvider time)
{
    private const int MaxLength = 128;

    public Task InvokeAsync(HttpContext context)
    {
        var routerId = Ids.NewVersion7(time.GetUtcNow()).ToString("N");
        context.TraceIdentifier = routerId;
        var clientId = context.Request.Headers[RouterHeaders.RequestId].ToString();
        context.Response.Headers[RouterHeaders.RequestId] = IsUsable(clientId) ? clientId : routerId;
        return next(context);
    }

    /// <summary>Only short, printable ids are echoed, so a header cannot carry a payload into logs.</summary>
    private static bool IsUsable(string id)
    {
        if (id.Length is 0 or > MaxLength) return false;
        foreach (var c in id)
        {
            if (c is < '!' or > '~') return false;
        }
        return true;
    }
}
