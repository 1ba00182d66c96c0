using System.Buffers.Text;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace LlmRouter.Bench.Http;

/// <summary>What a body consumer sees: each piece of de-chunked body bytes, with the time it was read off the socket.</summary>
internal interface IBodySink
{
    void OnBody(ReadOnlySpan<byte> data, long receivedAt);
}

internal readonly record struct RawResponse(int Status, long BodyBytes, bool KeepAlive);

/// <summary>
/// A minimal HTTP/1.1 client over one keep-alive socket: a pre-built request goes out as bytes, the response is
/// parsed in place (Content-Length or chunked), and body bytes reach an <see cref="IBodySink"/> as they arrive,
/// each stamped with the moment it was read. Far cheaper than HttpClient, so one core of load generator can drive
/// a proxy on the other core, and per-chunk timestamps are not blurred by a stream reader's buffering.
/// </summary>
internal sealed class RawHttpConnection : IDisposable
{
    private const int BufferSize = 64 * 1024;
    private readonly Socket _socket;
    private readonly byte[] _buffer = new byte[BufferSize];
    private int _start;
    private int _end;
    private long _lastReceive;

    private RawHttpConnection(Socket socket) => _socket = socket;

    public static async Task<RawHttpConnection> ConnectAsync(IPEndPoint endpoint, CancellationToken cancellationToken = default)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endpoint, cancellationToken);
            return new RawHttpConnection(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Sends <paramref name="request"/> and reads the whole response; body bytes go to <paramref name="sink"/>.</summary>
    public async ValueTask<RawResponse> SendAsync(ReadOnlyMemory<byte> request, IBodySink? sink, CancellationToken cancellationToken)
    {
        while (request.Length > 0)
        {
            var sent = await _socket.SendAsync(request, SocketFlags.None, cancellationToken);
            request = request[sent..];
        }
        // Status line and headers.
        int headerEnd;
        while ((headerEnd = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8)) < 0)
        {
            if (!await FillAsync(cancellationToken)) throw new IOException("connection closed before the response headers");
        }
        var head = ParseHead(_buffer.AsSpan(_start, headerEnd));
        _start += headerEnd + 4;
        long body;
        if (head.Chunked) body = await ReadChunkedAsync(sink, cancellationToken);
        else if (head.ContentLength >= 0) body = await ReadFixedAsync(head.ContentLength, sink, cancellationToken);
        else body = await ReadToEndAsync(sink, cancellationToken);
        return new RawResponse(head.Status, body, head.KeepAlive && (head.Chunked || head.ContentLength >= 0));
    }

    private async ValueTask<long> ReadFixedAsync(long length, IBodySink? sink, CancellationToken cancellationToken)
    {
        var remaining = length;
        while (remaining > 0)
        {
            if (_end == _start && !await FillAsync(cancellationToken)) throw new IOException("connection closed mid-body");
            var take = (int)Math.Min(remaining, _end - _start);
            sink?.OnBody(_buffer.AsSpan(_start, take), _lastReceive);
            _start += take;
            remaining -= take;
        }
        return length;
    }

    private async ValueTask<long> ReadToEndAsync(IBodySink? sink, CancellationToken cancellationToken)
    {
        long total = 0;
        while (true)
        {
            if (_end > _start)
            {
                sink?.OnBody(_buffer.AsSpan(_start, _end - _start), _lastReceive);
                total += _end - _start;
                _start = _end;
            }
            if (!await FillAsync(cancellationToken)) return total;
        }
    }

    private async ValueTask<long> ReadChunkedAsync(IBodySink? sink, CancellationToken cancellationToken)
    {
        long total = 0;
        while (true)
        {
            int lineEnd;
            while ((lineEnd = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n"u8)) < 0)
            {
                if (!await FillAsync(cancellationToken)) throw new IOException("connection closed in a chunk header");
            }
            var sizeText = _buffer.AsSpan(_start, lineEnd);
            var semicolon = sizeText.IndexOf((byte)';');
            if (semicolon >= 0) sizeText = sizeText[..semicolon];
            if (!Utf8Parser.TryParse(sizeText, out long size, out _, 'x')) throw new IOException("bad chunk size");
            _start += lineEnd + 2;
            if (size == 0)
            {
                // Trailers (none expected) end with an empty line.
                while (true)
                {
                    while ((lineEnd = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n"u8)) < 0)
                    {
                        if (!await FillAsync(cancellationToken)) throw new IOException("connection closed in the trailers");
                    }
                    _start += lineEnd + 2;
                    if (lineEnd == 0) return total;
                }
            }
            total += await ReadFixedAsync(size, sink, cancellationToken);
            while (_end - _start < 2)
            {
                if (!await FillAsync(cancellationToken)) throw new IOException("connection closed after a chunk");
            }
            _start += 2;
        }
    }

    /// <summary>Reads more bytes after the unconsumed ones; false at end of stream.</summary>
    private async ValueTask<bool> FillAsync(CancellationToken cancellationToken)
    {
        if (_start == _end)
        {
            _start = _end = 0;
        }
        else if (_end == _buffer.Length)
        {
            if (_start == 0) throw new IOException("response header or chunk line larger than the buffer");
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        var read = await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancellationToken);
        _lastReceive = Stopwatch.GetTimestamp();
        _end += read;
        return read > 0;
    }

    private readonly record struct Head(int Status, long ContentLength, bool Chunked, bool KeepAlive);

    private static Head ParseHead(ReadOnlySpan<byte> head)
    {
        // "HTTP/1.1 200 OK"
        if (head.Length < 12 || !head.StartsWith("HTTP/1."u8)) throw new IOException("not an HTTP/1.x response");
        Utf8Parser.TryParse(head.Slice(9, 3), out int status, out _);
        long contentLength = -1;
        var chunked = false;
        var keepAlive = head[7] == (byte)'1';
        var rest = head;
        while (true)
        {
            var newline = rest.IndexOf("\r\n"u8);
            if (newline < 0) break;
            rest = rest[(newline + 2)..];
            var lineEnd = rest.IndexOf("\r\n"u8);
            var line = lineEnd < 0 ? rest : rest[..lineEnd];
            var colon = line.IndexOf((byte)':');
            if (colon <= 0) continue;
            var name = line[..colon];
            var value = line[(colon + 1)..].Trim((byte)' ');
            if (Ascii.EqualsIgnoreCase(name, "content-length"u8)) Utf8Parser.TryParse(value, out contentLength, out _);
            else if (Ascii.EqualsIgnoreCase(name, "transfer-encoding"u8)) chunked = Ascii.EqualsIgnoreCase(value, "chunked"u8);
            else if (Ascii.EqualsIgnoreCase(name, "connection"u8)) keepAlive = !Ascii.EqualsIgnoreCase(value, "close"u8);
        }
        return new Head(status, contentLength, chunked, keepAlive);
    }

    public void Dispose() => _socket.Dispose();
}
