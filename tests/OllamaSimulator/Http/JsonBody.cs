using System.Text;
using System.Text.Json;

namespace OllamaSimulator.Http;

/// <summary>
/// Parses a request body the way Ollama's <c>ShouldBindJSON</c> fails: empty → <c>missing request body</c>,
/// malformed → a Go-style message, a non-object root → <c>cannot unmarshal … into Go value of type …</c>.
/// </summary>
internal static class JsonBody
{
    /// <summary>The parsed body. <c>null</c> (like Go) decodes to an empty object. The caller disposes the document.</summary>
    public static JsonDocument Parse(byte[] body, string goType)
    {
        var span = body.AsSpan().Trim(" \t\r\n"u8);
        if (span.IsEmpty) throw new ApiException(400, "missing request body");

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body);
        }
        catch (JsonException e)
        {
            throw new ApiException(400, Describe(span, e));
        }

        switch (doc.RootElement.ValueKind)
        {
            case JsonValueKind.Object:
                return doc;
            case JsonValueKind.Null:
                doc.Dispose();
                return JsonDocument.Parse("{}");
            default:
                var kind = JsonFields.GoKind(doc.RootElement.ValueKind);
                doc.Dispose();
                throw new ApiException(400, $"json: cannot unmarshal {kind} into Go value of type {goType}");
        }
    }

    // Go's encoding/json wording for the common cases; otherwise System.Text.Json's own description.
    private static string Describe(ReadOnlySpan<byte> body, JsonException e)
    {
        var first = (char)body[0];
        if ("{[\"-0123456789tfn".IndexOf(first) < 0) return $"invalid character '{first}' looking for beginning of value";
        var message = e.Message;
        if (message.StartsWith("Expected depth to be zero", StringComparison.Ordinal) || message.Contains("end of data", StringComparison.Ordinal) && !message.Contains("Expected end of data", StringComparison.Ordinal))
        {
            return "unexpected EOF";
        }
        var cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return "invalid JSON: " + (cut > 0 ? message[..cut] : message);
    }

    public static string Utf8(ReadOnlySpan<byte> bytes) => Encoding.UTF8.GetString(bytes);
}
