using System.Text;

namespace LlmRouter.Tests.Infrastructure;

/// <summary>
/// Reads Server-Sent Events from a response body one event at a time, the way SSE clients do:
/// <c>data:</c> lines are joined, a blank line dispatches the event, other fields are ignored.
/// A connection the server aborts is reported, not thrown, so tests can assert on how a stream ended.
/// </summary>
public sealed class SseReader(Stream body, TimeSpan? idleTimeout = null) : IDisposable
{
    /// <summary>A test must not hang on a stream that stopped moving; this long without a line fails it.</summary>
    public static readonly TimeSpan DefaultIdleTimeout = TimeSpan.FromSeconds(30);

    private readonly StreamReader _reader = new(body, Encoding.UTF8);
    private readonly TimeSpan _idleTimeout = idleTimeout ?? DefaultIdleTimeout;
    private readonly StringBuilder _raw = new();

    /// <summary>Everything read so far, verbatim, for failure messages.</summary>
    public string Raw => _raw.ToString();

    /// <summary>Set when reading failed (for example the server aborted the connection) instead of ending cleanly.</summary>
    public Exception? ReadError { get; private set; }

    /// <summary>The next event's data, or null at the end of the body (clean or aborted).</summary>
    public async Task<string?> ReadEventAsync(CancellationToken cancellationToken = default)
    {
        var data = new StringBuilder();
        var hasData = false;
        while (true)
        {
            string? line;
            using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            idle.CancelAfter(_idleTimeout);
            try
            {
                line = await _reader.ReadLineAsync(idle.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"No SSE line for {_idleTimeout.TotalSeconds:0} s. Read so far:\n{Raw}");
            }
            catch (Exception e) when (e is IOException or HttpRequestException)
            {
                ReadError = e;
                line = null;
            }

            if (line is null)
            {
                return hasData ? data.ToString() : null;
            }

            _raw.Append(line).Append('\n');
            if (line.Length == 0)
            {
                if (hasData)
                {
                    return data.ToString();
                }

                continue;
            }

            if (line.StartsWith("data:", StringComparison.Ordinal))
            {
                var value = line.AsSpan(5);
                if (value.StartsWith(" "))
                {
                    value = value[1..];
                }

                if (hasData)
                {
                    data.Append('\n');
                }

                data.Append(value);
                hasData = true;
            }
        }
    }

    /// <summary>Reads the rest of the stream.</summary>
    public async Task<IReadOnlyList<string>> ReadAllEventsAsync(CancellationToken cancellationToken = default)
    {
        var events = new List<string>();
        while (await ReadEventAsync(cancellationToken) is { } data)
        {
            events.Add(data);
        }

        return events;
    }

    public void Dispose() => _reader.Dispose();
}
