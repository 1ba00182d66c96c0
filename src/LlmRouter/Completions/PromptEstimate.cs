using System.Text.Json;

namespace LlmRouter.Completions;

/// <summary>
/// A tokenizer-free estimate of a prompt's tokens (about four characters a token, plus a little per message), used
/// to reserve quota and to spot prompts too long for a model's context. It errs high, and reservations are corrected
/// with the backend's real count at the end.
/// </summary>
internal static class PromptEstimate
{
    private const int CharsPerToken = 4;
    private const int TokensPerMessage = 4;

    public static int Tokens(JsonElement root)
    {
        long chars = 0;
        var messages = 0;
        if (root.TryGetProperty("messages", out var list) && list.ValueKind == JsonValueKind.Array)
        {
            foreach (var message in list.EnumerateArray())
            {
                messages++;
                if (message.ValueKind == JsonValueKind.Object && message.TryGetProperty("content", out var content)) chars += TextLength(content);
            }
        }
        if (root.TryGetProperty("prompt", out var prompt)) chars += TextLength(prompt);
        if (root.TryGetProperty("input", out var input)) chars += TextLength(input);
        if (root.TryGetProperty("tools", out var tools) && tools.ValueKind == JsonValueKind.Array) chars += tools.GetRawText().Length;
        return (int)Math.Min(int.MaxValue, chars / CharsPerToken + messages * TokensPerMessage + 1);
    }

    private static long TextLength(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString()!.Length,
        JsonValueKind.Array => value.EnumerateArray().Sum(item => item.ValueKind == JsonValueKind.Object && item.TryGetProperty("text", out var text)
            ? TextLength(text)
            : item.ValueKind == JsonValueKind.String ? item.GetString()!.Length : 0),
        _ => 0,
    };
}
