using System.Buffers;
using System.Text.Json;

namespace LlmRouter.OpenAi;

/// <summary>
/// A Utf8JsonWriter over a reusable buffer, one per thread, for JSON that is built and copied out synchronously on the
/// hot path (the backend request body, an answer's id header): no writer or buffer allocated per request.
/// </summary>
internal sealed class ScratchJson : IDisposable
{
    private const int KeepAtMost = 64 * 1024;
    private static readonly JsonWriterOptions Options = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    [ThreadStatic]
    private static ScratchJson? t_spare;

    private readonly ArrayBufferWriter<byte> _buffer = new(1024);

    private ScratchJson() => Writer = new Utf8JsonWriter(_buffer, Options);

    public Utf8JsonWriter Writer { get; }

    /// <summary>The JSON written so far (flushes the writer).</summary>
    public ReadOnlySpan<byte> Written
    {
        get
        {
            Writer.Flush();
            return _buffer.WrittenSpan;
        }
    }

    /// <summary>This thread's spare, or a new one while it is in use (nested use is safe, just not free).</summary>
    public static ScratchJson Rent()
    {
        var scratch = t_spare ?? new ScratchJson();
        t_spare = null;
        return scratch;
    }

    public void Dispose()
    {
        Writer.Reset(_buffer);
        _buffer.ResetWrittenCount();
        // A rare huge body is not worth keeping for the thread's lifetime.
        if (_buffer.Capacity <= KeepAtMost) t_spare = this;
    }
}
