using System.Buffers;
using System.Runtime.CompilerServices;

namespace LlmRouter.Streaming;

/// <summary>
/// Splits a response body into lines as bytes arrive, without waiting for more than one line. One pooled buffer per
/// body, read into directly (no pipe, no per-read segments or cancellation registrations of its own): the per-chunk
/// path of every stream goes through here. The line handed to the callback is valid only during the call.
/// </summary>
internal sealed class NdjsonReader(Stream body) : IAsyncDisposable
{
    private const int InitialSize = 4 * 1024;
    private const int MinimumRead = 1024;
    private byte[]? _buffer = ArrayPool<byte>.Shared.Rent(InitialSize);
    private int _start;
    private int _end;
    private bool _completed;

    public delegate void LineHandler<TState>(in ReadOnlySequence<byte> line, TState state);

    /// <summary>Hands the next non-blank line to <paramref name="handler"/>; false at the end of the body.</summary>
    /// <remarks>
    /// It waits for the backend once per chunk, and an async method that waits allocates its state machine each time;
    /// the pooling builder reuses one instead, which takes that allocation off every streamed chunk.
    /// </remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> ReadLineAsync<TState>(LineHandler<TState> handler, TState state, CancellationToken cancellationToken)
    {
        var buffer = _buffer ?? throw new ObjectDisposedException(nameof(NdjsonReader));
        while (true)
        {
            if (SkipToWholeLine(buffer, out var length))
            {
                var line = new ReadOnlySequence<byte>(buffer, _start, length);
                _start += length + 1;
                handler(line, state);
                return true;
            }
            if (_completed)
            {
                // A last line without its newline still counts (a static server's JSON, say).
                var rest = new ReadOnlySequence<byte>(buffer, _start, _end - _start);
                _start = _end;
                if (IsBlank(rest.FirstSpan)) return false;
                handler(rest, state);
                return true;
            }
            buffer = MakeRoom(buffer);
            var read = await body.ReadAsync(buffer.AsMemory(_end), cancellationToken);
            if (read == 0) _completed = true;
            _end += read;
        }
    }

    /// <summary>
    /// Whether the next <see cref="ReadLineAsync{TState}"/> returns without waiting for the body: a whole non-blank line,
    /// or the body's end, is in already (blank lines before it are passed over, as that read would). A relay need not
    /// flush a chunk that the next one follows at once.
    /// </summary>
    public bool NextLineBuffered => _completed || _buffer is { } buffer && SkipToWholeLine(buffer, out _);

    /// <summary>
    /// Moves past the whole blank lines at the start of the unread part; true, with its length (newline excluded), when
    /// a whole non-blank line follows them.
    /// </summary>
    private bool SkipToWholeLine(byte[] buffer, out int length)
    {
        while (true)
        {
            length = buffer.AsSpan(_start, _end - _start).IndexOf((byte)'\n');
            if (length < 0) return false;
            if (!IsBlank(buffer.AsSpan(_start, length))) return true;
            _start += length + 1;
        }
    }

    /// <summary>
    /// Leaves at least <see cref="MinimumRead"/> bytes free after the unread part: moves it to the front, or into a buffer
    /// twice the size when one line nearly fills the whole buffer.
    /// </summary>
    private byte[] MakeRoom(byte[] buffer)
    {
        if (_start == _end)
        {
            _start = _end = 0;
            return buffer;
        }
        if (buffer.Length - _end >= MinimumRead) return buffer;
        var unread = _end - _start;
        var target = buffer.Length - unread >= MinimumRead ? buffer : ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
        buffer.AsSpan(_start, _end - _start).CopyTo(target);
        _end -= _start;
        _start = 0;
        if (!ReferenceEquals(target, buffer))
        {
            ArrayPool<byte>.Shared.Return(buffer);
            _buffer = target;
        }
        return target;
    }

    private static bool IsBlank(ReadOnlySpan<byte> line)
    {
        foreach (var b in line)
        {
            if (b is not ((byte)' ' or (byte)'\r' or (byte)'\t')) return false;
        }
        return true;
    }

    public async ValueTask DisposeAsync()
    {
        if (_buffer is { } buffer)
        {
            _buffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
        await body.DisposeAsync();
    }
}
