using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace OllamaSimulator.Generation;

/// <summary>
/// The text of token <c>i</c>: a fixed cycle ("Hello from the Ollama simulator. Hello from …") so answers are
/// predictable, or with <c>timestampTokens</c> the <see cref="Stopwatch"/> timestamp at the moment of writing plus a
/// space, so a client on the same machine can measure write→read latency (the clock is shared across processes).
/// </summary>
internal static class TokenText
{
    private static readonly string[] Words = ["Hello", " from", " the", " Ollama", " simulator", "."];

    public static string Word(int index) =>
        index > 0 && index % Words.Length == 0 ? " Hello" : Words[index % Words.Length];

    public static void Write(Utf8JsonWriter json, ReadOnlySpan<byte> property, int index, bool timestamp)
    {
        if (!timestamp)
        {
            json.WriteString(property, Word(index));
            return;
        }
        Span<char> text = stackalloc char[24];
        Stopwatch.GetTimestamp().TryFormat(text, out var n, default, CultureInfo.InvariantCulture);
        text[n++] = ' ';
        json.WriteString(property, text[..n]);
    }

    public static void Append(StringBuilder text, int index, bool timestamp)
    {
        if (timestamp) text.Append(Stopwatch.GetTimestamp().ToString(CultureInfo.InvariantCulture)).Append(' ');
        else text.Append(Word(index));
    }
}
