using System.Buffers;

namespace LlmRouter.Hosting;

/// <summary>
/// A response whose body is known before it leaves: with its length set, the flush that follows sends the headers
/// and the whole body in one write. Without it Kestrel frames the body as chunked and sends the closing chunk in a
/// second write after the handler returns, which wakes the client twice for one answer.
/// </summary>
internal static class WholeBody
{
    /// <summary>Only valid before the response has started.</summary>
    public static void Write(HttpResponse response, ReadOnlySpan<byte> body)
    {
        response.ContentLength = body.Length;
        response.BodyWriter.Write(body);
    }
}
