using System.Text.Json;
using OllamaSimulator.Generation;
using OllamaSimulator.Http;

namespace OllamaSimulator.OpenAi;

/// <summary>
/// <c>stream: true</c> on <c>/v1/chat/completions</c>: <c>data: {chunk}\n\n</c> frames; role on the first chunk only,
/// a separate finish chunk with an empty delta, the <c>choices: []</c> usage chunk when asked, then <c>data: [DONE]</c>.
/// </summary>
internal sealed class OpenAiStreamWriter(HttpContext ctx, GenerationJob job, bool includeUsage) : IAnswerWriter
{
    private readonly LineFramer _frames = new(ctx.Response, "text/event-stream", LineFramer.SsePrefix, LineFramer.SseSuffix);
    private readonly string _id = OpenAiChunks.NewId();
    private long _created;
    private bool _roleSent;
    private bool _madeToolCall;

    public bool HasStarted => _frames.HasStarted;

    public ValueTask WriteTokenAsync(int index, bool timestamp, CancellationToken ct)
    {
        var json = BeginDelta();
        TokenText.Write(json, "content"u8, index, timestamp);
        return EndDeltaAsync(json, ct);
    }

    public ValueTask WriteToolCallAsync(ToolCallPlan call, CancellationToken ct)
    {
        _madeToolCall = true;
        var json = BeginDelta();
        json.WriteString("content"u8, ""u8);
        OpenAiChunks.WriteToolCalls(json, call);
        return EndDeltaAsync(json, ct);
    }

    public async ValueTask WriteFinalAsync(string doneReason, AnswerMetrics metrics, CancellationToken ct)
    {
        // An empty answer still opens with a role chunk.
        if (!_roleSent)
        {
            var opening = BeginDelta();
            opening.WriteString("content"u8, ""u8);
            await EndDeltaAsync(opening, ct);
        }

        var json = BeginChunk();
        json.WriteStartArray("choices"u8);
        json.WriteStartObject();
        json.WriteNumber("index"u8, 0);
        json.WriteStartObject("delta"u8);
        json.WriteEndObject();
        json.WriteString("finish_reason"u8, OpenAiChunks.FinishReason(doneReason, _madeToolCall));
        json.WriteEndObject();
        json.WriteEndArray();
        json.WriteEndObject();
        await _frames.EndAsync(ct);

        if (includeUsage)
        {
            json = BeginChunk();
            json.WriteStartArray("choices"u8);
            json.WriteEndArray();
            OpenAiChunks.WriteUsage(json, metrics);
            json.WriteEndObject();
            await _frames.EndAsync(ct);
        }
        await _frames.WriteRawAsync("data: [DONE]\n\n"u8, ct);
    }

    public async Task WriteErrorAsync(int status, string message, CancellationToken ct)
    {
        if (!HasStarted)
        {
            await ErrorResponses.WriteAsync(ctx, status, message);
            return;
        }
        // What Ollama's ChatWriter makes of a native error line: one empty delta, then the stream just ends,
        // with no finish chunk and no [DONE].
        var json = BeginDelta();
        json.WriteString("content"u8, ""u8);
        await EndDeltaAsync(json, ct);
    }

    private Utf8JsonWriter BeginChunk()
    {
        if (_created == 0) _created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var json = _frames.Begin();
        OpenAiChunks.WriteHead(json, _id, "chat.completion.chunk", _created, job.RequestedModel);
        return json;
    }

    private Utf8JsonWriter BeginDelta()
    {
        var json = BeginChunk();
        json.WriteStartArray("choices"u8);
        json.WriteStartObject();
        json.WriteNumber("index"u8, 0);
        json.WriteStartObject("delta"u8);
        if (!_roleSent) json.WriteString("role"u8, "assistant"u8);
        _roleSent = true;
        return json;
    }

    private ValueTask EndDeltaAsync(Utf8JsonWriter json, CancellationToken ct)
    {
        json.WriteEndObject();
        json.WriteNull("finish_reason"u8);
        json.WriteEndObject();
        json.WriteEndArray();
        json.WriteEndObject();
        return _frames.EndAsync(ct);
    }
}
