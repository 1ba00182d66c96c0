using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using OllamaSimulator.Http;

namespace OllamaSimulator.Generation;

/// <summary>
/// Writes one compact JSON object per frame straight into the response pipe and flushes it, so every token leaves
/// the process as it is made. Framing is a prefix and suffix: NDJSON ("" / "\n") or SSE ("data: " / "\n\n").
/// The status line and headers go out with the first frame, as in Ollama.
/// </summary>
internal sealed class LineFramer(HttpResponse response, string contentType, byte[] prefix, byte[] suffix)
{
    public static readonly byte[] NdjsonSuffix = "\n"u8.ToArray();
    public static readonly byte[] SsePrefix = "data: "u8.ToArray();
    public static readonly byte[] SseSuffix = "\n\n"u8.ToArray();

    private Utf8JsonWriter? _json;

    public bool HasStarted { get; private set; }

    /// <summary>Starts a frame; write one JSON value to the returned writer, then call <see cref="EndAsync"/>.</summary>
    public Utf8JsonWriter Begin()
    {
        Start();
        var pipe = response.BodyWriter;
        if (prefix.Length > 0) pipe.Write(prefix);
        if (_json is null) _json = new Utf8JsonWriter(pipe, JsonOutput.Options);
        else _json.Reset();
        return _json;
    }

    public ValueTask EndAsync(CancellationToken ct)
    {
        _json!.Flush();
        response.BodyWriter.Write(suffix);
        return FlushAsync(ct);
    }

    /// <summary>Writes bytes that are not JSON (SSE's <c>data: [DONE]</c>) and flushes.</summary>
    public ValueTask WriteRawAsync(ReadOnlySpan<byte> bytes, CancellationToken ct)
    {
        Start();
        response.BodyWriter.Write(bytes);
        return FlushAsync(ct);
    }

    private void Start()
    {
        if (HasStarted) return;
        HasStarted = true;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = contentType;
        response.HttpContext.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
    }

    private async ValueTask FlushAsync(CancellationToken ct)
    {
        var result = await response.BodyWriter.FlushAsync(ct);
        // The reader side completes when the connection is gone; stop generating for nobody.
        if (result.IsCompleted || result.IsCanceled) throw new OperationCanceledException("The client closed the connection.");
    }
}
