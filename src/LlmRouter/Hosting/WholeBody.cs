using System.Buffers;
using System.IO.Pipelines;

namespace LlmRouter.Hosting;

/// <summary>
/// A JSON response whose body is known before it leaves: with its length set, the flush sends the headers and the
/// whole body in one write. Without it Kestrel frames the body as chunked and sends the closing chunk in a second
/// write after the handler returns, which wakes the client twice for one answer.
/// </summary>
internal static class WholeBody
{
    /// <summary>Sets the status, JSON content type and length, writes the body and flushes; only valid before the response has started.</summary>
    public static ValueTask<FlushResult> WriteJsonAsync(HttpResponse response, int status, ReadOnlySpan<byte> body, CancellationToken cancellationToken)
    {
        response.StatusCode = status;
        response.ContentType = "application/json";
        response.ContentLength = body.Length;
        response.BodyWriter.Write(body);
        return response.BodyWriter.FlushAsync(cancellationToken);
    }
}
