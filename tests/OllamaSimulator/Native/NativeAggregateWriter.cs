using System.Text;
using OllamaSimulator.Generation;
using OllamaSimulator.Http;

namespace OllamaSimulator.Native;

/// <summary><c>stream: false</c>: one object like the final line, with all content (or the tool call) aggregated.</summary>
internal sealed class NativeAggregateWriter(HttpContext ctx, GenerationJob job, bool chat) : IAnswerWriter
{
    private readonly StringBuilder _content = new();
    private ToolCallPlan? _call;

    public bool HasStarted => false;

    private int _tokens;

    public ValueTask WriteTokenAsync(int index, bool timestamp, CancellationToken ct)
    {
        _tokens = index + 1;
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
            NativeJson.WriteHead(json, job.RequestedModel);
            if (chat)
            {
                json.WriteStartObject("message"u8);
                json.WriteString("role"u8, "assistant"u8);
                json.WriteString("content"u8, _content.ToString());
                if (_call is { } call) NativeJson.WriteToolCalls(json, call);
                json.WriteEndObject();
            }
            else
            {
                json.WriteString("response"u8, _content.ToString());
            }
            json.WriteBoolean("done"u8, true);
            json.WriteString("done_reason"u8, doneReason);
            // Go's field order: a chat answer's logprobs come before its metrics, a generate answer's after them.
            if (chat && job.TopLogprobs is { } top) NativeJson.WriteLogprobs(json, 0, _tokens, top);
            if (!chat) NativeJson.WriteContext(json, metrics.PromptEvalCount + metrics.EvalCount);
            metrics.WriteTo(json);
            if (!chat && job.TopLogprobs is { } generateTop) NativeJson.WriteLogprobs(json, 0, _tokens, generateTop);
            json.WriteEndObject();
        }));

    public Task WriteErrorAsync(int status, string message, CancellationToken ct) => ErrorResponses.WriteAsync(ctx, status, message);
}
