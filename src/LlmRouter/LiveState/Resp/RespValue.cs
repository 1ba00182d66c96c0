using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace LlmRouter.LiveState.Resp;

internal enum RespKind : byte
{
    SimpleString,
    Error,
    Integer,
    BulkString,
    Array,
    Null,
}

/// <summary>One RESP2 reply: what the live-state scripts return (integers, strings, nested arrays) or an error.</summary>
internal readonly struct RespValue
{
    private readonly object? _payload;

    private RespValue(RespKind kind, long integer, object? payload)
    {
        Kind = kind;
        Integer = integer;
        _payload = payload;
    }

    public RespKind Kind { get; }
    public long Integer { get; }
    public string? Text => _payload as string;
    public RespValue[] Items => _payload as RespValue[] ?? [];

    public RespValue this[int index] => Items[index];

    /// <summary>An integer reply, or a string holding one (as Lua numbers may come back).</summary>
    public long ToInt64() => Kind == RespKind.Integer ? Integer : long.Parse(Text ?? "0", CultureInfo.InvariantCulture);

    public double ToDouble() => Kind == RespKind.Integer ? Integer : double.Parse(Text ?? "0", CultureInfo.InvariantCulture);

    public override string ToString() => Kind switch
    {
        RespKind.Integer => Integer.ToString(CultureInfo.InvariantCulture),
        RespKind.Array => "[" + string.Join(", ", Items.Select(i => i.ToString())) + "]",
        RespKind.Null => "(nil)",
        _ => Text ?? "",
    };

    /// <summary>
    /// Reads one complete reply. False, with <paramref name="reader"/> possibly moved, when more bytes are needed: the
    /// caller keeps its own copy of the position and tries again from there once more has arrived.
    /// </summary>
    public static bool TryRead(ref SequenceReader<byte> reader, out RespValue value)
    {
        value = default;
        if (!reader.TryRead(out var type) || !reader.TryReadTo(out ReadOnlySpan<byte> line, "\r\n"u8)) return false;
        switch (type)
        {
            case (byte)'+':
                value = new RespValue(RespKind.SimpleString, 0, Encoding.UTF8.GetString(line));
                return true;
            case (byte)'-':
                value = new RespValue(RespKind.Error, 0, Encoding.UTF8.GetString(line));
                return true;
            case (byte)':':
                value = new RespValue(RespKind.Integer, ParseInteger(line), null);
                return true;
            case (byte)'$':
                var length = ParseInteger(line);
                if (length < 0)
                {
                    value = new RespValue(RespKind.Null, 0, null);
                    return true;
                }
                if (reader.Remaining < length + 2) return false;
                var bytes = reader.UnreadSequence.Slice(0, length);
                var text = bytes.IsSingleSegment ? Encoding.UTF8.GetString(bytes.FirstSpan) : Encoding.UTF8.GetString(bytes.ToArray());
                reader.Advance(length + 2);
                value = new RespValue(RespKind.BulkString, 0, text);
                return true;
            case (byte)'*':
                var count = ParseInteger(line);
                if (count < 0)
                {
                    value = new RespValue(RespKind.Null, 0, null);
                    return true;
                }
                var items = new RespValue[count];
                for (var i = 0; i < count; i++)
                {
                    if (!TryRead(ref reader, out items[i])) return false;
                }
                value = new RespValue(RespKind.Array, 0, items);
                return true;
            default:
                throw new InvalidDataException($"not a RESP reply (type byte 0x{type:x2})");
        }
    }

    private static long ParseInteger(ReadOnlySpan<byte> line) =>
        Utf8Parser.TryParse(line, out long value, out var consumed) && consumed == line.Length
            ? value
            : throw new InvalidDataException("malformed RESP integer");
}
