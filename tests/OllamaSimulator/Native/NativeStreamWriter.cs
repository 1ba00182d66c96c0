using OllamaSimulator.Generation;
using OllamaSimulator.Http;

namespace OllamaSimulator.Native;

/// <summary>
/// <c>/api/chat</c> and <c>/api/generate</c> with <c>stream: true</c>: NDJSON, one object per line, flushed per line.
/// Token lines carry only model, created_at, message (or response) and <c>done:false</c>.
/// </summary>
internal sealed class NativeStreamWriter(HttpContext ctx, GenerationJob job, bool chat) : IAnswerWriter
{
    private readonly LineFramer _lines = new(ctx.Response, "application/x-ndjson", [], LineFramer.NdjsonSuffix);

    public bool HasStarted => _lines.HasStarted;

    public ValueTask WriteTokenAsync(int index, bool timestamp, CancellationToken ct)
    {
        var json = _lines.Begin();
        NativeJson.WriteHead(json, job.RequestedModel);
        if (chat)
        {
            json.WriteStartObject("message"u8);
            json.WriteString("role"u8, "assistant"u8);
            TokenText.Write(json, "content"u8, index, timestamp);
            json.WriteEndObject();
        }
        else
        {
            TokenText.Write(json, "response"u8, index, timestamp);
        }
        json.WriteBoolean("done"u8, false);
        if (job.TopLogprobs is { } top) NativeJson.WriteLogprobs(json, index, index + 1, top);
        json.WriteEndObject();
        return _lines.EndAsync(ct);
    }

    public ValueTask WriteToolCallAsync(ToolCallPlan call, CancellationToken ct)
    {
        var json = _lines.Begin();
        NativeJson.WriteHead(json, job.RequestedModel);
        json.WriteStartObject("message"u8);
        json.WriteString("role"u8, "assistant"u8);
        json.WriteString("content"u8, ""u8);
        NativeJson.WriteToolCalls(json, call);
        json.WriteEndObject();
        json.WriteBoolean("done"u8, false);
        json.WriteEndObject();
        return _lines.EndAsync(ct);
    }

    public ValueTask WriteFinalAsync(string doneReason, AnswerMetrics metrics, CancellationToken ct)
    {
        var json = _lines.Begin();
        NativeJson.WriteHead(json, job.RequestedModel);
        if (chat)
        {
            json.WriteStartObject("message"u8);
            json.WriteString("role"u8, "assistant"u8);
            json.WriteString("content"u8, ""u8);
            json.WriteEndObject();
        }
        else
        {
            json.WriteString("response"u8, ""u8);
        }
        json.WriteBoolean("done"u8, true);
        json.WriteString("done_reason"u8, doneReason);
        if (!chat) NativeJson.WriteContext(json, metrics.PromptEvalCount + metrics.EvalCount);
        metrics.WriteTo(json);
        json.WriteEndObject();
        return _lines.EndAsync(ct);
    }

    public async Task WriteErrorAsync(int status, string message, CancellationToken ct)
    {
        // Before the first line Ollama still answers with a plain JSON error and its status.
        if (!HasStarted)
        {
            await ErrorResponses.WriteAsync(ctx, status, message);
            return;
        }
        var json = _lines.Begin();
        json.WriteStartObject();
        json.WriteString("error"u8, message);
        json.WriteEndObject();
        await _lines.EndAsync(ct);
    }
}
