using System.Text;
using System.Text.Json;
using LlmRouter.Errors;

namespace LlmRouter.OpenAi;

/// <summary>
/// JSON lets a string escape half of a UTF-16 surrogate pair (<c>"\ud800"</c>); the parser takes it, but such a string
/// is not Unicode and cannot be read as text. A body holding one is refused whole, before any field is read.
/// </summary>
internal static class JsonSurrogates
{
    /// <summary>
    /// Throws a 400 when <paramref name="json"/>, already parsed as <paramref name="root"/> (an object), escapes a
    /// surrogate without its pair; the error names the top-level field it is in, unless it is in a field's name.
    /// </summary>
    public static void Check(ReadOnlySpan<byte> json, JsonElement root)
    {
        // The parser does not check the bytes of strings either, and reading one that is not UTF-8 throws.
        if (!System.Text.Unicode.Utf8.IsValid(json)) throw new ApiErrorException(ApiError.InvalidRequest("The request body is not valid UTF-8."));
        if (!HasLoneSurrogate(json)) return;
        string? field = null;
        foreach (var property in root.EnumerateObject())
        {
            string name;
            try
            {
                name = property.Name;
            }
            catch (InvalidOperationException)
            {
                break;
            }
            // The raw text keeps escapes as written.
            if (HasLoneSurrogate(Encoding.UTF8.GetBytes(property.Value.GetRawText())))
            {
                field = name;
                break;
            }
        }
        throw new ApiErrorException(ApiError.InvalidRequest(
            $@"{(field is null ? "The request body" : $"'{field}'")} escapes half of a UTF-16 surrogate pair (such as \ud800 alone), which is not valid Unicode.", field));
    }

    /// <summary>Only escapes can make one, and in valid JSON a backslash appears only inside strings, starting an escape.</summary>
    public static bool HasLoneSurrogate(ReadOnlySpan<byte> json)
    {
        // Most bodies escape nothing by \u (their backslashes are \n and \").
        if (json.IndexOf("\\u"u8) < 0) return false;
        var highEndsAt = -1;
        var i = 0;
        while (true)
        {
            var found = json[i..].IndexOf((byte)'\\');
            if (found < 0) return highEndsAt >= 0;
            var at = i + found;
            // A high surrogate must be followed at once by the escape of a low one.
            if (highEndsAt >= 0 && at != highEndsAt) return true;
            if (at + 1 >= json.Length) return highEndsAt >= 0;
            if (json[at + 1] != (byte)'u' || at + 6 > json.Length)
            {
                if (highEndsAt >= 0) return true;
                i = at + 2;
                continue;
            }
            var code = Hex(json[at + 2]) << 12 | Hex(json[at + 3]) << 8 | Hex(json[at + 4]) << 4 | Hex(json[at + 5]);
            var high = code is >= 0xD800 and <= 0xDBFF;
            var low = code is >= 0xDC00 and <= 0xDFFF;
            if (highEndsAt >= 0 != low) return true;
            highEndsAt = high ? at + 6 : -1;
            i = at + 6;
        }
    }

    private static int Hex(byte digit) => digit switch
    {
        >= (byte)'0' and <= (byte)'9' => digit - '0',
        >= (byte)'a' and <= (byte)'f' => digit - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => digit - 'A' + 10,
        _ => 0,
    };
}
