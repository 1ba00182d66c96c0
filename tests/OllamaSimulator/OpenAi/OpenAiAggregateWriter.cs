using System.Text;
using OllamaSimulator.Generation;
using OllamaSimulator.Http;

namespace OllamaSimulator.OpenAi;

/// <summary><c>stream: false</c> on <c>/v1/chat/completions</c>: one <c>chat.completion</c> object with usage.</summary>
internal sealed class OpenAiAggregateWriter(HttpContext ctx, GenerationJob job) : IAnswerWriter
{
    private readonly StringBuilder _content = new();
    private ToolCallPlan? _call;

    public bool HasStarted => false;

    public ValueTask WriteTokenAsync(int index, bool timestamp, CancellationToken ct)
    {
        TokenText.Append(_content, index, timestamp);
        return ValueTask.CompletedTask;
    }

    public ValueTask WriteToolCallAsync(ToolCallPlan call, CancellationToken ct)
    {
        _call = call;
        return ValueTask.CompletedTask;
    }

    public ValueTask WriteFinalAsync(string doneReason, AnswerMetrics metrics, CancellationToken ct) =>
        new(JsonOutput.WriteAsync(ctx.Response, StatusCodes.Status200OK, json =>
        {
            OpenAiChunks.WriteHead(json, OpenAiChunks.NewId(), "chat.completion", DateTimeOffset.UtcNow.ToUnixTimeSeconds(), job.RequestedModel);
            json.WriteStartArray("choices"u8);
            json.WriteStartObject();
            json.WriteNumber("index"u8, 0);
            json.WriteStartObject("message"u8);
            json.WriteString("role"u8, "assistant"u8);
            json.WriteString("content"u8, _content.ToString());
            if (_call is { } call) OpenAiChunks.WriteToolCalls(json, call);
            json.WriteEndObject();
            json.WriteString("finish_reason"u8, OpenAiChunks.FinishReason(doneReason, _call is not null));
            json.WriteEndObject();
            json.WriteEndArray();
            OpenAiChunks.WriteUsage(json, metrics);
            json.WriteEndObject();
        }, "application/json"));

    public Task WriteErrorAsync(int status, string message, CancellationToken ct) => ErrorResponses.WriteAsync(ctx, status, message);
}
