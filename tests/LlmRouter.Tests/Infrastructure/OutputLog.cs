namespace LlmRouter.Tests.Infrastructure;

/// <summary>
/// The last lines a child process wrote (stdout and stderr interleaved), bounded so a chatty
/// process cannot exhaust memory. Tests print it when they fail.
/// </summary>
public sealed class OutputLog
{
    private const int MaxLines = 2000;
    private const int MaxLineLength = 4000;

    private readonly object _gate = new();
    private readonly Queue<(long Seq, string Stream, string Line)> _lines = new();
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<string> Done)> _waiters = [];
    private long _next;

    /// <summary>Sequence number of the next line; pass it to <see cref="Since"/> to get what came after.</summary>
    public long Mark()
    {
        lock (_gate)
        {
            return _next;
        }
    }

    public void Append(string stream, string line)
    {
        if (line.Length > MaxLineLength)
        {
            line = string.Concat(line.AsSpan(0, MaxLineLength), "…");
        }

        List<TaskCompletionSource<string>>? matched = null;
        lock (_gate)
        {
            _lines.Enqueue((_next++, stream, line));
            while (_lines.Count > MaxLines)
            {
                _lines.Dequeue();
            }

            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Match(line))
                {
                    (matched ??= []).Add(_waiters[i].Done);
                    _waiters.RemoveAt(i);
                }
            }
        }

        // Complete outside the lock: continuations run asynchronously anyway, but be safe.
        matched?.ForEach(tcs => tcs.TrySetResult(line));
    }

    /// <summary>Completes with the first line (already seen or future) for which <paramref name="match"/> is true.</summary>
    public Task<string> WaitForLineAsync(Func<string, bool> match)
    {
        var tcs = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            foreach (var (_, _, line) in _lines)
            {
                if (match(line))
                {
                    tcs.SetResult(line);
                    return tcs.Task;
                }
            }

            _waiters.Add((match, tcs));
        }

        return tcs.Task;
    }

    public IReadOnlyList<string> Lines(long since = 0)
    {
        lock (_gate)
        {
            return _lines.Where(l => l.Seq >= since).Select(l => $"[{l.Stream}] {l.Line}").ToList();
        }
    }

    public string Since(long mark, int maxLines = 200)
    {
        var lines = Lines(mark);
        var skipped = Math.Max(0, lines.Count - maxLines);
        var tail = string.Join(Environment.NewLine, lines.Skip(skipped));
        return skipped > 0 ? $"(… {skipped} earlier lines)" + Environment.NewLine + tail : tail;
    }

    public override string ToString() => Since(0);
}
