using System.Buffers.Text;

namespace LlmRouter.Bench.Http;

/// <summary>
/// Reads an OpenAI SSE answer as it arrives. Each content delta carries the simulator's write timestamp
/// (<c>--timestamp-tokens</c>), so every chunk yields its write→read latency; the read times give the gaps.
/// </summary>
internal sealed class SseStreamSink(int expectedChunks) : IBodySink
{
    private readonly byte[] _line = new byte[8192];
    private int _lineLength;

    public long[] Stamps { get; } = new long[expectedChunks + 8];
    public long[] ReadAt { get; } = new long[expectedChunks + 8];
    public int Chunks { get; private set; }
    public bool Done { get; private set; }
    public bool Error { get; private set; }
    /// <summary>Content chunks beyond what the arrays hold (a longer answer than expected).</summary>
    public int Extra { get; private set; }

    public void OnBody(ReadOnlySpan<byte> data, long receivedAt)
    {
        while (data.Length > 0)
        {
            var newline = data.IndexOf((byte)'\n');
            var piece = newline < 0 ? data : data[..newline];
            if (_lineLength + piece.Length <= _line.Length)
            {
                piece.CopyTo(_line.AsSpan(_lineLength));
                _lineLength += piece.Length;
            }
            if (newline < 0) return;
            OnLine(_line.AsSpan(0, _lineLength), receivedAt);
            _lineLength = 0;
            data = data[(newline + 1)..];
        }
    }

    private void OnLine(ReadOnlySpan<byte> line, long receivedAt)
    {
        if (!line.StartsWith("data: "u8)) return;
        var payload = line[6..];
        if (payload.StartsWith("[DONE]"u8))
        {
            Done = true;
            return;
        }
        if (payload.StartsWith("{\"error\""u8))
        {
            Error = true;
            return;
        }
        var at = payload.IndexOf("\"content\":\""u8);
        if (at < 0) return;
        var text = payload[(at + 11)..];
        if (text.Length == 0 || text[0] == (byte)'"') return;
        Utf8Parser.TryParse(text, out long stamp, out _);
        if (Chunks < Stamps.Length)
        {
            Stamps[Chunks] = stamp;
            ReadAt[Chunks] = receivedAt;
            Chunks++;
        }
        else
        {
            Extra++;
        }
    }
}

/// <summary>Counts body bytes and nothing else.</summary>
internal sealed class DiscardSink : IBodySink
{
    public static readonly DiscardSink Instance = new();

    public void OnBody(ReadOnlySpan<byte> data, long receivedAt)
    {
    }
}
