using System.Buffers;
using System.IO.Pipelines;

namespace LlmRouter.Streaming;

/// <summary>
/// Splits a response body into lines as bytes arrive, without waiting for more than one line.
/// The line handed to the callback is valid only during the call.
/// </summary>
internal sealed class NdjsonReader(Stream body) : IAsyncDisposable
{
    private readonly PipeReader _reader = PipeReader.Create(body, new StreamPipeReaderOptions(bufferSize: 16 * 1024, minimumReadSize: 1024));
    private ReadOnlySequence<byte> _buffer;
    private bool _holding;
    private bool _completed;

    public delegate void LineHandler<TState>(in ReadOnlySequence<byte> line, TState state);

    /// <summary>Hands the next non-blank line to <paramref name="handler"/>; false at the end of the body.</summary>
    public async ValueTask<bool> ReadLineAsync<TState>(LineHandler<TState> handler, TState state, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (_holding)
            {
                var newline = _buffer.PositionOf((byte)'\n');
                if (newline is { } position)
                {
                    var line = _buffer.Slice(0, position);
                    _buffer = _buffer.Slice(_buffer.GetPosition(1, position));
                    if (IsBlank(line)) continue;
                    handler(line, state);
                    return true;
                }
                if (_completed)
                {
                    // A last line without its newline still counts (a static server's JSON, say).
                    var rest = _buffer;
                    _buffer = default;
                    if (IsBlank(rest)) return false;
                    handler(rest, state);
                    return true;
                }
                _reader.AdvanceTo(_buffer.Start, _buffer.End);
                _holding = false;
            }
            if (_completed) return false;
            var result = await _reader.ReadAsync(cancellationToken);
            _buffer = result.Buffer;
            _completed = result.IsCompleted;
            _holding = true;
        }
    }

    private static bool IsBlank(in ReadOnlySequence<byte> line)
    {
        foreach (var segment in line)
        {
            foreach (var b in segment.Span)
            {
                if (b is not ((byte)' ' or (byte)'\r' or (byte)'\t')) return false;
            }
        }
        return true;
    }

    public async ValueTask DisposeAsync()
    {
        if (_holding) _reader.AdvanceTo(_buffer.End);
        _holding = false;
        await _reader.CompleteAsync();
    }
}
