using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace LlmRouter.LiveState.Resp;

/// <summary>A command argument, kept as what it is until it is written (no boxing, no intermediate string for numbers).</summary>
internal readonly struct RespArg
{
    private readonly string? _text;
    /// <summary>The integer, or the double's bits.</summary>
    private readonly long _number;
    private readonly byte _kind; // 0 text, 1 integer, 2 real

    private RespArg(string? text, long number, byte kind)
    {
        _text = text;
        _number = number;
        _kind = kind;
    }

    public static implicit operator RespArg(string text) => new(text, 0, 0);
    public static implicit operator RespArg(long integer) => new(null, integer, 1);
    public static implicit operator RespArg(double real) => new(null, BitConverter.DoubleToInt64Bits(real), 2);

    /// <summary>Appends <c>$len\r\nbytes\r\n</c>.</summary>
    public void WriteTo(IBufferWriter<byte> output)
    {
        Span<byte> number = stackalloc byte[32];
        scoped ReadOnlySpan<byte> bytes;
        int written;
        switch (_kind)
        {
            case 1:
                Utf8Formatter.TryFormat(_number, number, out written);
                bytes = number[..written];
                break;
            case 2:
                BitConverter.Int64BitsToDouble(_number).TryFormat(number, out written, "R", CultureInfo.InvariantCulture);
                bytes = number[..written];
                break;
            default:
                WriteBulk(output, _text ?? "");
                return;
        }
        WriteLength(output, (byte)'$', bytes.Length);
        output.Write(bytes);
        output.Write("\r\n"u8);
    }

    public static void WriteLength(IBufferWriter<byte> output, byte type, int length)
    {
        var span = output.GetSpan(16);
        span[0] = type;
        Utf8Formatter.TryFormat(length, span[1..], out var written);
        span[1 + written] = (byte)'\r';
        span[2 + written] = (byte)'\n';
        output.Advance(3 + written);
    }

    private static void WriteBulk(IBufferWriter<byte> output, string text)
    {
        var length = Encoding.UTF8.GetByteCount(text);
        WriteLength(output, (byte)'$', length);
        var span = output.GetSpan(length + 2);
        Encoding.UTF8.GetBytes(text, span);
        span[length] = (byte)'\r';
        span[length + 1] = (byte)'\n';
        output.Advance(length + 2);
    }
}
