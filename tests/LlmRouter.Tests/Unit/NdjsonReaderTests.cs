using System.Buffers;
using System.Text;
using LlmRouter.Streaming;

namespace LlmRouter.Tests.Unit;

/// <summary>NDJSON lines as they arrive in arbitrary pieces: split lines, blank lines, a line longer than the buffer.</summary>
public sealed class NdjsonReaderTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(4096)]
    public async Task ReadLineAsync_AnyPieceSize_YieldsEveryLineWhole(int pieceSize)
    {
        var longLine = "{\"content\":\"" + new string('x', 40_000) + "\"}";
        var body = "{\"a\":1}\n\n  \r\n{\"b\":2}\r\n" + longLine + "\n{\"last\":true}";

        var lines = await ReadAllAsync(new TrickleStream(Encoding.UTF8.GetBytes(body), pieceSize));

        Assert.Equal(["{\"a\":1}", "{\"b\":2}\r", longLine, "{\"last\":true}"], lines);
    }

    [Fact]
    public async Task ReadLineAsync_EmptyBody_EndsAtOnce()
    {
        Assert.Empty(await ReadAllAsync(new MemoryStream()));
    }

    private static async Task<List<string>> ReadAllAsync(Stream stream)
    {
        var lines = new List<string>();
        await using var reader = new NdjsonReader(stream);
        while (await reader.ReadLineAsync(static (in ReadOnlySequence<byte> line, List<string> into) => into.Add(Encoding.UTF8.GetString(line)), lines, CancellationToken.None))
        {
        }
        return lines;
    }

    /// <summary>Hands out at most <c>pieceSize</c> bytes per read, like a network stream under load.</summary>
    private sealed class TrickleStream(byte[] data, int pieceSize) : Stream
    {
        private int _position;

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var count = Math.Min(Math.Min(pieceSize, buffer.Length), data.Length - _position);
            data.AsSpan(_position, count).CopyTo(buffer.Span);
            _position += count;
            return ValueTask.FromResult(count);
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => data.Length;
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
