using System.Text.Json;
using LlmRouter.Completions;

namespace LlmRouter.Tests.Unit;

/// <summary>The prompt estimate a key's reservation is made from: it must not come out low where tokenizers count more.</summary>
public sealed class PromptEstimateTests
{
    private static int Estimate(string json)
    {
        using var document = JsonDocument.Parse(json);
        return PromptEstimate.Tokens(document.RootElement);
    }

    [Fact]
    public void AsciiText_AboutFourCharactersAToken_PlusTheTemplate()
    {
        // 40 characters in one message: 10, plus 4 for the message and 1.
        Assert.Equal(15, Estimate("""{"messages":[{"role":"user","content":"Complete this sentence: the sky is blue."}]}"""));
    }

    [Fact]
    public void NonAsciiText_OneTokenACharacter()
    {
        // Nine CJK characters are nine tokens or more to any tokenizer, not two.
        Assert.Equal(9 + 4 + 1, Estimate("""{"messages":[{"role":"user","content":"今日は良い天気です"}]}"""));
        Assert.True(Estimate("""{"prompt":"今日は良い天気です"}""") >= 9);
    }

    [Fact]
    public void Images_CountAnAllowanceEach()
    {
        var withImage = Estimate("""
            {"messages":[{"role":"user","content":[{"type":"text","text":"what is this?"},
              {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}]}
            """);
        var without = Estimate("""{"messages":[{"role":"user","content":[{"type":"text","text":"what is this?"}]}]}""");
        Assert.Equal(768, withImage - without);
    }
}
