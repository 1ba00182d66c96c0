using System.Text.Json;

namespace LlmRouter.Completions;

/// <summary>
/// A tokenizer-free estimate of a prompt's tokens, used to reserve quota and to spot prompts too long for a model's
/// context: about four characters a token for ASCII text, one a token for any other character (CJK, accents, emoji
/// run one to three tokens each), a fixed allowance per image, and a little per message for the chat template.
/// Reservations are corrected with the backend's real count at the end; the estimate matters only near a key's
/// limit, where one that comes out low lets the request end over it by the difference.
/// </summary>
internal static class PromptEstimate
{
    private const int CharsPerToken = 4;
    private const int TokensPerMessage = 4;
    /// <summary>What an image costs a vision model: 256 (Gemma 3) to about 1,600 tokens (Llama 3.2 Vision at its size).</summary>
    private const int TokensPerImage = 768;

    public static int Tokens(JsonElement root)
    {
        // In quarter tokens: an ASCII character is one, any other character four.
        long quarters = 0;
        var messages = 0;
        if (root.TryGetProperty("messages", out var list) && list.ValueKind == JsonValueKind.Array)
        {
            foreach (var message in list.EnumerateArray())
            {
                messages++;
                if (message.ValueKind == JsonValueKind.Object && message.TryGetProperty("content", out var content)) quarters += Quarters(content);
            }
        }
        if (root.TryGetProperty("prompt", out var prompt)) quarters += Quarters(prompt);
        if (root.TryGetProperty("input", out var input)) quarters += Quarters(input);
        if (root.TryGetProperty("tools", out var tools) && tools.ValueKind == JsonValueKind.Array) quarters += tools.GetRawText().Length;
        return (int)Math.Min(int.MaxValue, quarters / CharsPerToken + messages * TokensPerMessage + 1);
    }

    private static long Quarters(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => Quarters(value.GetString()!),
        JsonValueKind.Array => value.EnumerateArray().Sum(PartQuarters),
        _ => 0,
    };

    /// <summary>A content part: text, an image (<c>image_url</c>; an <c>input_audio</c> part, which Ollama takes as an image, too), or a bare string.</summary>
    private static long PartQuarters(JsonElement item)
    {
        if (item.ValueKind == JsonValueKind.String) return Quarters(item.GetString()!);
        if (item.ValueKind != JsonValueKind.Object) return 0;
        if (item.TryGetProperty("text", out var text)) return Quarters(text);
        return item.TryGetProperty("image_url", out _) || item.TryGetProperty("input_audio", out _) ? TokensPerImage * CharsPerToken : 0;
    }

    private static long Quarters(string text)
    {
        long quarters = text.Length;
        // Most prompts are ASCII: one vectorised scan finds that, and the loop runs only from the first other character.
        var first = text.AsSpan().IndexOfAnyExceptInRange('\0', '\x7F');
        if (first < 0) return quarters;
        foreach (var c in text.AsSpan(first))
            if (c > 0x7F) quarters += CharsPerToken - 1;
        return quarters;
    }
}
