using Npgsql;

namespace LlmRouter.Usage;

/// <summary>The Postgres side of the writer: one batch, its failure modes, and replay of the spill backlog.</summary>
internal sealed partial class UsageWriter
{
    private async Task<bool> TryInsertAsync(List<UsageRecord> rows)
    {
        try
        {
            var inserted = await _store!.InsertAsync(rows, _abort.Token);
            Interlocked.Add(ref _written, inserted);
            Interlocked.Add(ref _duplicates, rows.Count - inserted);
            MarkUp();
            return true;
        }
        catch (PostgresException e) when (IsDataError(e))
        {
            Log.BatchRefused(_logger, rows.Count, e.SqlState, e.MessageText);
            return await InsertOneByOneAsync(rows);
        }
        catch (Exception e)
        {
            // Down, unreachable, schema not migrated yet, or cancelled at shutdown. The outcome may be unknown;
            // writing the batch again later is safe because the statement is idempotent.
            MarkDown(e);
            return false;
        }
    }

    /// <summary>Finds the rows Postgres refuses and sets them aside, so one bad row cannot block its batch forever.</summary>
    private async Task<bool> InsertOneByOneAsync(List<UsageRecord> rows)
    {
        foreach (var row in rows)
        {
            try
            {
                var inserted = await _store!.InsertAsync([row], _abort.Token);
                Interlocked.Add(ref _written, inserted);
                Interlocked.Add(ref _duplicates, 1 - inserted);
            }
            catch (PostgresException e) when (IsDataError(e))
            {
                try
                {
                    _spill.Reject([row]);
                }
                catch (Exception io)
                {
                    Log.SpillFailed(_logger, 1, _spill.RejectedPath, io);
                    return false;
                }
                Interlocked.Increment(ref _rejected);
                Log.RowRejected(_logger, row.Id, e.SqlState, e.MessageText, _spill.RejectedPath);
            }
            catch (Exception e)
            {
                MarkDown(e);
                return false;
            }
        }
        MarkUp();
        return true;
    }

    /// <summary>Replays the spill backlog oldest first, for at most one flush interval so fresh rows do not wait long.</summary>
    private async Task ReplayAsync()
    {
        var deadline = _time.GetUtcNow() + _options.FlushInterval;
        try
        {
            do
            {
                if (_replay is null)
                {
                    _replay = _spill.OpenReplay(_replayedLines);
                    if (_replay is null) return;
                }
                _chunk.Clear();
                var lines = _replay.ReadChunk(_options.MaxBatchRows, _chunk);
                if (lines == 0)
                {
                    if (_replay.CorruptLines > 0) Log.CorruptLines(_logger, _replay.CorruptLines, _spill.ReplayPath);
                    _replay.Dispose();
                    _replay = null;
                    _replayedLines = 0;
                    _spill.CompleteReplay();
                    Log.Replayed(_logger, _spill.ReplayPath);
                    continue;
                }
                if (_chunk.Count > 0 && !await TryInsertAsync(_chunk))
                {
                    // Resume after the last chunk that made it (the file is reopened and skipped to it).
                    _replay.Dispose();
                    _replay = null;
                    return;
                }
                _replayedLines += lines;
                Interlocked.Add(ref _replayed, _chunk.Count);
            }
            while (_time.GetUtcNow() < deadline);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.ReplayFailed(_logger, _spill.ReplayPath, e);
            _replay?.Dispose();
            _replay = null;
            _replayBlockedUntil = _time.GetUtcNow() + _options.RetryMax;
        }
    }

    private bool MayTryDatabase() => !_databaseDown || _time.GetUtcNow() >= _retryAt;

    private bool MayReplay() => _spill.HasBacklog && MayTryDatabase() && _time.GetUtcNow() >= _replayBlockedUntil;

    private void MarkDown(Exception e)
    {
        if (!_databaseDown)
        {
            _databaseDown = true;
            _retryDelay = _options.RetryMin;
            Log.DatabaseDown(_logger, _spill.Path, e);
        }
        else
        {
            _retryDelay = TimeSpan.FromTicks(Math.Min(_retryDelay.Ticks * 2, _options.RetryMax.Ticks));
        }
        _retryAt = _time.GetUtcNow() + _retryDelay;
    }

    private void MarkUp()
    {
        if (!_databaseDown) return;
        _databaseDown = false;
        Log.DatabaseBack(_logger);
    }

    /// <summary>Data exceptions (class 22) and integrity violations (class 23) will fail the same way every time.</summary>
    private static bool IsDataError(PostgresException e) => e.SqlState.StartsWith("22", StringComparison.Ordinal) || e.SqlState.StartsWith("23", StringComparison.Ordinal);
}
