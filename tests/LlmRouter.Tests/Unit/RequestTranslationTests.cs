using System.Text;
using System.Text.Json;
using LlmRouter.Backends;
using LlmRouter.Backends.Ollama;
using LlmRouter.Errors;
using LlmRouter.OpenAi;

namespace LlmRouter.Tests.Unit;

/// <summary>OpenAI request → Ollama native body (wire reference §7.2.3).</summary>
public sealed class RequestTranslationTests
{
    private static JsonElement Translate(string openAiJson, Operation operation = Operation.Chat, string model = "llama3.1:8b")
    {
        using var input = JsonDocument.Parse(openAiJson);
        var request = ClientRequest.Parse(operation, input.RootElement);
        var prepared = OllamaRequestWriter.Prepare(request, input.RootElement);
        var content = prepared.ContentFor(model);
        var text = content.ReadAsStringAsync().GetAwaiter().GetResult();
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static ApiError Rejects(string openAiJson, Operation operation = Operation.Chat)
    {
        var e = Assert.Throws<ApiErrorException>(() => Translate(openAiJson, operation));
        Assert.Equal(400, e.Error.Status);
        return e.Error;
    }

    [Fact]
    public void Chat_ModelIsTheDeploymentsAndOllamaAlwaysStreams()
    {
        var body = Translate("""{"model":"chat","messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal("llama3.1:8b", body.GetProperty("model").GetString());
        // A non-streamed answer is assembled by the router, so its attempt can tell a slow start from a long answer.
        Assert.True(body.GetProperty("stream").GetBoolean());
        Assert.True(Translate("""{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]}""").GetProperty("stream").GetBoolean());
    }

    [Theory]
    [InlineData("max_tokens")]
    [InlineData("max_completion_tokens")]
    public void Chat_MaxTokens_BecomesNumPredict(string field)
    {
        var body = Translate($$"""{"model":"chat","{{field}}":77,"messages":[{"role":"user","content":"hi"}]}""");
        Assert.Equal(77, body.GetProperty("options").GetProperty("num_predict").GetInt32());
    }

    [Fact]
    public void Chat_SamplingFields_GoToOptions_StopStringBecomesArray()
    {
        var body = Translate("""
            {"model":"chat","messages":[{"role":"user","content":"hi"}],"temperature":0.2,"top_p":0.5,"seed":7,
             "presence_penalty":0.1,"frequency_penalty":0.3,"stop":"END","user":"u1","n":1,"tool_choice":"auto"}
            """);
        var options = body.GetProperty("options");

        Assert.Equal(0.2, options.GetProperty("temperature").GetDouble());
        Assert.Equal(0.5, options.GetProperty("top_p").GetDouble());
        Assert.Equal(7, options.GetProperty("seed").GetInt32());
        Assert.Equal(0.1, options.GetProperty("presence_penalty").GetDouble());
        Assert.Equal(0.3, options.GetProperty("frequency_penalty").GetDouble());
        Assert.Equal(["END"], options.GetProperty("stop").EnumerateArray().Select(e => e.GetString()));
        Assert.False(body.TryGetProperty("user", out _));
        Assert.False(body.TryGetProperty("tool_choice", out _));
    }

    [Fact]
    public void Chat_ResponseFormat_BecomesFormat()
    {
        Assert.Equal("json", Translate("""{"model":"c","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_object"}}""")
            .GetProperty("format").GetString());
        var schema = Translate("""
            {"model":"c","messages":[{"role":"user","content":"x"}],
             "response_format":{"type":"json_schema","json_schema":{"name":"n","schema":{"type":"object"}}}}
            """).GetProperty("format");
        Assert.Equal("object", schema.GetProperty("type").GetString());
    }

    [Fact]
    public void Chat_ImageDataUri_BecomesBareBase64_AndTextPartsJoin()
    {
        var body = Translate("""
            {"model":"c","messages":[{"role":"user","content":[
              {"type":"text","text":"What is this?"},
              {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}]}
            """);
        var message = body.GetProperty("messages")[0];

        Assert.Equal("What is this?", message.GetProperty("content").GetString());
        Assert.Equal("iVBORw0KGgo=", message.GetProperty("images")[0].GetString());
    }

    [Fact]
    public void Chat_ImageHttpUrl_IsRejectedNamingThePart()
    {
        var error = Rejects("""{"model":"c","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]}""");
        Assert.Equal("messages[0].content[0].image_url.url", error.Param);
    }

    [Fact]
    public void Chat_DeveloperRole_BecomesSystem()
    {
        var body = Translate("""{"model":"c","messages":[{"role":"developer","content":"be terse"},{"role":"user","content":"x"}]}""");
        Assert.Equal("system", body.GetProperty("messages")[0].GetProperty("role").GetString());
    }

    [Fact]
    public void Chat_ToolCallFollowUp_ArgumentsBecomeObject_ToolResultNamesTheTool()
    {
        var body = Translate("""
            {"model":"c","tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}],
             "messages":[
              {"role":"user","content":"weather?"},
              {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Tokyo\"}"}}]},
              {"role":"tool","tool_call_id":"call_1","content":"11 degrees"}]}
            """);
        var messages = body.GetProperty("messages");
        var call = messages[1].GetProperty("tool_calls")[0].GetProperty("function");

        Assert.Equal("", messages[1].GetProperty("content").GetString());
        Assert.Equal("get_weather", call.GetProperty("name").GetString());
        Assert.Equal("Tokyo", call.GetProperty("arguments").GetProperty("city").GetString());
        Assert.Equal("get_weather", messages[2].GetProperty("tool_name").GetString());
        Assert.Equal("get_weather", body.GetProperty("tools")[0].GetProperty("function").GetProperty("name").GetString());
    }

    [Theory]
    [InlineData("\"none\"", false)]
    [InlineData("\"auto\"", true)]
    [InlineData("\"required\"", true)]
    [InlineData("null", true)]
    [InlineData("{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}", true)]
    public void Chat_ToolChoiceNone_SendsNoTools_SoTheModelCannotCallOne(string choice, bool toolsSent)
    {
        var body = Translate("""
            {"model":"c","tool_choice":CHOICE,"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}],
             "messages":[{"role":"user","content":"weather?"}]}
            """.Replace("CHOICE", choice, StringComparison.Ordinal));

        Assert.Equal(toolsSent, body.TryGetProperty("tools", out _));
    }

    [Fact]
    public void Chat_UnparsableToolArguments_Is400()
    {
        var error = Rejects("""
            {"model":"c","messages":[{"role":"assistant","tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"{oops"}}]}]}
            """);
        Assert.Equal("messages[0].tool_calls[0].function.arguments", error.Param);
    }

    [Fact]
    public void Chat_ReasoningEffort_BecomesThink()
    {
        Assert.Equal("high", Translate("""{"model":"c","messages":[{"role":"user","content":"x"}],"reasoning_effort":"high"}""").GetProperty("think").GetString());
        Assert.False(Translate("""{"model":"c","messages":[{"role":"user","content":"x"}],"reasoning_effort":"none"}""").GetProperty("think").GetBoolean());
    }

    [Fact]
    public void Chat_Logprobs_PassOn_TopLogprobsChecked()
    {
        var body = Translate("""{"model":"c","messages":[{"role":"user","content":"x"}],"logprobs":true,"top_logprobs":3}""");
        Assert.True(body.GetProperty("logprobs").GetBoolean());
        Assert.Equal(3, body.GetProperty("top_logprobs").GetInt32());
        Assert.False(Translate("""{"model":"c","messages":[{"role":"user","content":"x"}],"logprobs":false}""").TryGetProperty("logprobs", out _));
        Assert.Equal("top_logprobs", Rejects("""{"model":"c","messages":[{"role":"user","content":"x"}],"logprobs":true,"top_logprobs":21}""").Param);
        Assert.Equal("top_logprobs", Rejects("""{"model":"c","messages":[{"role":"user","content":"x"}],"top_logprobs":2}""").Param);
    }

    [Fact]
    public void Chat_OllamasOwnThink_PassesOn_ReasoningEffortWins()
    {
        Assert.False(Translate("""{"model":"c","messages":[{"role":"user","content":"x"}],"think":false}""").GetProperty("think").GetBoolean());
        Assert.Equal("medium", Translate("""{"model":"c","messages":[{"role":"user","content":"x"}],"think":"medium"}""").GetProperty("think").GetString());
        Assert.Equal("low", Translate("""{"model":"c","messages":[{"role":"user","content":"x"}],"think":true,"reasoning_effort":"low"}""").GetProperty("think").GetString());
        Assert.False(Translate("""{"model":"c","messages":[{"role":"user","content":"x"}]}""").TryGetProperty("think", out _));
        Assert.Equal("think", Rejects("""{"model":"c","messages":[{"role":"user","content":"x"}],"think":"lots"}""").Param);
        Assert.Equal("think", Rejects("""{"model":"c","messages":[{"role":"user","content":"x"}],"think":1}""").Param);
    }

    [Theory]
    [InlineData("""{"messages":[{"role":"user","content":"x"}]}""", "model")]
    [InlineData("""{"model":"c"}""", "messages")]
    [InlineData("""{"model":"c","messages":"hello"}""", "messages")]
    [InlineData("""{"model":"c","messages":[]}""", "messages")]
    [InlineData("""{"model":5,"messages":[{"role":"user","content":"x"}]}""", "model")]
    [InlineData("""{"model":"c","stream":"yes","messages":[{"role":"user","content":"x"}]}""", "stream")]
    [InlineData("""{"model":"c","max_tokens":-1,"messages":[{"role":"user","content":"x"}]}""", "max_tokens")]
    [InlineData("""{"model":"c","temperature":"hot","messages":[{"role":"user","content":"x"}]}""", "temperature")]
    [InlineData("""{"model":"c","messages":[{"role":"wizard","content":"x"}]}""", "messages[0].role")]
    [InlineData("""{"model":"c","messages":[{"role":"user","content":42}]}""", "messages[0].content")]
    public void Chat_BadInput_Is400NamingTheField(string json, string param)
    {
        Assert.Equal(param, Rejects(json).Param);
    }

    [Fact]
    public void Completion_PromptAndSuffix_GoToGenerate()
    {
        var body = Translate("""{"model":"c","prompt":"def f(","suffix":"return 1","max_tokens":5}""", Operation.Completion);

        Assert.Equal("def f(", body.GetProperty("prompt").GetString());
        Assert.Equal("return 1", body.GetProperty("suffix").GetString());
        Assert.Equal(5, body.GetProperty("options").GetProperty("num_predict").GetInt32());
    }

    [Fact]
    public void Embedding_InputAlwaysAnArray_NoStreamField()
    {
        var body = Translate("""{"model":"embed","input":"hello"}""", Operation.Embedding);

        Assert.Equal(["hello"], body.GetProperty("input").EnumerateArray().Select(e => e.GetString()));
        Assert.False(body.TryGetProperty("stream", out _));
        Assert.Equal("input", Rejects("""{"model":"embed","input":[1,2,3]}""", Operation.Embedding).Param);
    }

    [Fact]
    public void ModelName_IsJsonEscapedInThePrefix()
    {
        var body = Translate("""{"model":"c","messages":[{"role":"user","content":"x"}]}""", model: "we\"ird");
        Assert.Equal("we\"ird", body.GetProperty("model").GetString());
    }
}
