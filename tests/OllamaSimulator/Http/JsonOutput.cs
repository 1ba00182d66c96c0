using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace OllamaSimulator.Http;

/// <summary>Writes whole JSON bodies the way gin's <c>c.JSON</c> does: compact, with Content-Length.</summary>
internal static class JsonOutput
{
    public const string ContentType = "application/json; charset=utf-8";

    // Go does not escape non-ASCII text; the relaxed encoder is the closest match.
    public static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static Task WriteAsync<TState>(HttpResponse response, int status, TState state, Action<Utf8JsonWriter, TState> write, string contentType = ContentType)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer, Options))
        {
            write(json, state);
        }
        response.StatusCode = status;
        response.ContentType = contentType;
        response.ContentLength = buffer.WrittenCount;
        return response.Body.WriteAsync(buffer.WrittenMemory).AsTask();
    }

    public static Task WriteAsync(HttpResponse response, int status, Action<Utf8JsonWriter> write, string contentType = ContentType) =>
        WriteAsync(response, status, write, static (json, w) => w(json), contentType);
}
