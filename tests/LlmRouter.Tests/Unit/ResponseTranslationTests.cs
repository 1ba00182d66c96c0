using System.Buffers;
using System.Text;
using System.Text.Json;
using LlmRouter.Backends;
using LlmRouter.Backends.Ollama;
using LlmRouter.Errors;
using LlmRouter.OpenAi;

namespace LlmRouter.Tests.Unit;

/// <summary>Ollama native lines → OpenAI chunks, one line at a time (wire reference §7.2.4–6).</summary>
public sealed class ResponseTranslationTests
{
    private static GenerationChunk ParseLine(string line)
    {
        var chunk = new GenerationChunk();
        OllamaLineParser.Parse(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(line)), chunk);
        return chunk;
    }

    /// <summary>Feeds native lines through the writer as the relay does and returns the SSE frames' data.</summary>
    private static List<string> Stream(AnswerWriter writer, params string[] lines)
    {
        var output = new ArrayBufferWriter<byte>();
        foreach (var line in lines)
        {
            var chunk = ParseLine(line);
            if (chunk.HasDelta) writer.WriteDelta(output, chunk);
            if (chunk.Done) writer.WriteEnd(output, chunk);
        }
        var text = Encoding.UTF8.GetString(output.WrittenSpan);
        Assert.EndsWith("\n\n", text);
        return text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(frame =>
            {
                Assert.StartsWith("data: ", frame);
                return frame["data: ".Length..];
            })
            .ToList();
    }

    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement.Clone();

    private const string Token1 = """{"model":"llama3.1:8b","created_at":"2025-07-07T20:22:19.1Z","message":{"role":"assistant","content":"Hel"},"done":false}""";
    private const string Token2 = """{"model":"llama3.1:8b","created_at":"2025-07-07T20:22:19.2Z","message":{"role":"assistant","content":"lo \"w\"\n"},"done":false}""";
    private const string Final = """{"model":"llama3.1:8b","created_at":"2025-07-07T20:22:19.3Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","total_duration":4883583458,"prompt_eval_count":26,"eval_count":2,"eval_duration":4535599000}""";

    [Fact]
    public void Parse_ContentLine_KeepsEscapedTextAsBytes()
    {
        var chunk = ParseLine(Token2);

        Assert.Equal("lo \\\"w\\\"\\n", Encoding.UTF8.GetString(chunk.ContentJson.WrittenSpan));
        Assert.False(chunk.Done);
    }

    [Fact]
    public void Parse_FinalLine_ReadsDoneReasonAndCounts()
    {
        var chunk = ParseLine(Final);

        Assert.True(chunk.Done);
        Assert.Equal("stop", chunk.DoneReason);
        Assert.Equal(26, chunk.PromptTokens);
        Assert.Equal(2, chunk.CompletionTokens);
        Assert.False(chunk.HasDelta);
    }

    [Fact]
    public void Parse_ErrorLine_IsAnError()
    {
        Assert.Equal("boom", ParseLine("""{"error":"boom"}""").Error);
    }

    [Fact]
    public void Stream_Chat_OneIdOneCreatedRoleFirstFinishThenUsageThenDone()
    {
        var frames = Stream(new ChatAnswerWriter("chat", stream: true, includeUsage: true, created: 1754000000), Token1, Token2, Final);

        Assert.Equal("[DONE]", frames[^1]);
        var chunks = frames[..^1].Select(Json).ToList();
        Assert.Equal(4, chunks.Count);
        Assert.Single(chunks.Select(c => c.GetProperty("id").GetString()).Distinct());
        Assert.StartsWith("chatcmpl-", chunks[0].GetProperty("id").GetString());
        Assert.All(chunks, c => Assert.Equal(1754000000, c.GetProperty("created").GetInt64()));
        Assert.All(chunks, c => Assert.Equal("chat", c.GetProperty("model").GetString()));
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));

        var first = chunks[0].GetProperty("choices")[0];
        Assert.Equal("assistant", first.GetProperty("delta").GetProperty("role").GetString());
        Assert.Equal("Hel", first.GetProperty("delta").GetProperty("content").GetString());
        Assert.Equal(JsonValueKind.Null, first.GetProperty("finish_reason").ValueKind);
        Assert.False(chunks[1].GetProperty("choices")[0].GetProperty("delta").TryGetProperty("role", out _));
        Assert.Equal("lo \"w\"\n", chunks[1].GetProperty("choices")[0].GetProperty("delta").GetProperty("content").GetString());

        var finish = chunks[2].GetProperty("choices")[0];
        Assert.Equal("stop", finish.GetProperty("finish_reason").GetString());
        Assert.Empty(finish.GetProperty("delta").EnumerateObject());

        var usage = chunks[3];
        Assert.Equal(0, usage.GetProperty("choices").GetArrayLength());
        Assert.Equal(26, usage.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(2, usage.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal(28, usage.GetProperty("usage").GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public void Stream_Chat_WithoutIncludeUsage_HasNoUsageChunk()
    {
        var frames = Stream(new ChatAnswerWriter("chat", true, includeUsage: false, created: 1), Token1, Final);

        Assert.Equal(3, frames.Count);
        Assert.DoesNotContain(frames, f => f.Contains("usage"));
    }

    [Fact]
    public void Stream_Chat_EmptyAnswer_StillOpensWithRole()
    {
        var frames = Stream(new ChatAnswerWriter("chat", true, false, 1), Final);

        Assert.Equal("assistant", Json(frames[0]).GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());
        Assert.Equal("stop", Json(frames[1]).GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Theory]
    [InlineData("length", "length")]
    [InlineData("load", "stop")]
    [InlineData("", "stop")]
    [InlineData("stop", "stop")]
    public void Stream_Chat_FinishReasonIsAlwaysAValidValue(string doneReason, string expected)
    {
        var final = $$"""{"model":"m","message":{"role":"assistant","content":""},"done":true,"done_reason":"{{doneReason}}"}""";
        var frames = Stream(new ChatAnswerWriter("chat", true, false, 1), Token1, final);

        Assert.Equal(expected, Json(frames[1]).GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public void Stream_Chat_ToolCall_ArgumentsBecomeAStringAndFinishIsToolCalls()
    {
        const string call = """{"model":"m","message":{"role":"assistant","content":"","tool_calls":[{"id":"call_k3v9x0qa","function":{"index":0,"name":"get_weather","arguments":{"city":"Tokyo"}}}]},"done":false}""";
        var frames = Stream(new ChatAnswerWriter("chat", true, false, 1), call, Final);

        var delta = Json(frames[0]).GetProperty("choices")[0].GetProperty("delta");
        var toolCall = delta.GetProperty("tool_calls")[0];
        Assert.Equal("call_k3v9x0qa", toolCall.GetProperty("id").GetString());
        Assert.Equal(0, toolCall.GetProperty("index").GetInt32());
        Assert.Equal("function", toolCall.GetProperty("type").GetString());
        Assert.Equal("get_weather", toolCall.GetProperty("function").GetProperty("name").GetString());
        Assert.Equal("""{"city":"Tokyo"}""", toolCall.GetProperty("function").GetProperty("arguments").GetString());
        Assert.Equal("tool_calls", Json(frames[1]).GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public void Stream_Chat_Thinking_BecomesReasoningContent()
    {
        const string thinking = """{"model":"m","message":{"role":"assistant","content":"","thinking":"Let me"},"done":false}""";
        var frames = Stream(new ChatAnswerWriter("chat", true, false, 1), thinking, Final);

        Assert.Equal("Let me", Json(frames[0]).GetProperty("choices")[0].GetProperty("delta").GetProperty("reasoning_content").GetString());
    }

    [Fact]
    public void Whole_Chat_AggregatesTextAndUsage()
    {
        var output = new ArrayBufferWriter<byte>();
        var writer = new ChatAnswerWriter("chat", stream: false, includeUsage: false, created: 5);
        foreach (var line in new[] { Token1, Token2, Final })
        {
            var chunk = ParseLine(line);
            if (chunk.HasDelta) writer.WriteDelta(output, chunk);
            if (chunk.Done) writer.WriteEnd(output, chunk);
        }
        var body = Json(Encoding.UTF8.GetString(output.WrittenSpan));

        Assert.Equal("chat.completion", body.GetProperty("object").GetString());
        Assert.Equal("chat", body.GetProperty("model").GetString());
        var choice = body.GetProperty("choices")[0];
        Assert.Equal("Hello \"w\"\n", choice.GetProperty("message").GetProperty("content").GetString());
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(28, body.GetProperty("usage").GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public void Stream_Completion_TextCompletionChunks()
    {
        const string t = """{"model":"m","response":"def","done":false}""";
        const string f = """{"model":"m","response":"","done":true,"done_reason":"length","context":[1,2],"prompt_eval_count":3,"eval_count":1}""";
        var frames = Stream(new CompletionAnswerWriter("code", true, true, 1), t, f);

        Assert.Equal("def", Json(frames[0]).GetProperty("choices")[0].GetProperty("text").GetString());
        Assert.Equal("text_completion", Json(frames[0]).GetProperty("object").GetString());
        Assert.Equal("length", Json(frames[1]).GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(4, Json(frames[2]).GetProperty("usage").GetProperty("total_tokens").GetInt32());
        Assert.Equal("[DONE]", frames[3]);
    }

    [Fact]
    public void ErrorFrame_IsOpenAiErrorObject()
    {
        var output = new ArrayBufferWriter<byte>();
        AnswerWriter.WriteErrorFrame(output, ApiError.BackendError("lost it"));
        var text = Encoding.UTF8.GetString(output.WrittenSpan);

        Assert.StartsWith("data: ", text);
        var error = Json(text["data: ".Length..].Trim()).GetProperty("error");
        Assert.Equal("lost it", error.GetProperty("message").GetString());
        Assert.Equal("backend_error", error.GetProperty("code").GetString());
    }
}
