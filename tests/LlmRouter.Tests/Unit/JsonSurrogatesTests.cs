using System.Text;
using System.Text.Json;
using LlmRouter.OpenAi;

namespace LlmRouter.Tests.Unit;

/// <summary>Which JSON bodies escape half a surrogate pair (text .NET cannot read), checked against what the parser itself says.</summary>
public sealed class JsonSurrogatesTests
{
    [Theory]
    [InlineData("""{"a":"\ud800"}""", true)]
    [InlineData("""{"a":"\udc00"}""", true)]
    [InlineData("""{"a":"\ud83d\ude00"}""", false)]
    [InlineData("""{"a":"\uD83D\uDE00 and \u00e9"}""", false)]
    [InlineData("""{"a":"\ud83d"}""", true)]
    [InlineData("""{"a":"\ud83dx\ude00"}""", true)]
    [InlineData("""{"a":"\ud83d\n"}""", true)]
    [InlineData("""{"a":"\ud83d\ud83d\ude00"}""", true)]
    [InlineData("""{"a":"\\ud800"}""", false)]
    [InlineData("""{"a":"\\\ud800"}""", true)]
    [InlineData("""{"\ud800":1}""", true)]
    [InlineData("""{"a":"plain text, no escapes"}""", false)]
    [InlineData("""{"a":"\"quoted\" \\ \/ \t"}""", false)]
    [InlineData("""{"a":"\ud800","b":"\udc00"}""", true)]
    public void FindsExactlyTheStringsTheParserCannotRead(string json, bool lone)
    {
        var bytes = Encoding.UTF8.GetBytes(json);

        Assert.Equal(lone, JsonSurrogates.HasLoneSurrogate(bytes));
        Assert.Equal(lone, !EveryStringReads(bytes));
    }

    private static bool EveryStringReads(byte[] json)
    {
        var reader = new Utf8JsonReader(json);
        try
        {
            while (reader.Read())
                if (reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName) reader.GetString();
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
