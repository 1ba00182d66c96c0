using System.Threading.Channels;
using LlmRouter.Configuration;
using LlmRouter.Data;
using Npgsql;

namespace LlmRouter.Usage;

/// <summary>
/// Takes usage rows off the request path and writes them to Postgres in batches, one statement per batch.
/// <see cref="Record"/> only offers the row to a bounded channel; when that is full the row goes to an unbounded
/// overflow channel that a second loop appends to the spill file at disk speed. When Postgres fails, the batch
/// is spilled too, and the spill file is replayed (oldest first) once Postgres answers again. Nothing is dropped:
/// rows are in memory for about one flush interval, then in Postgres or on disk. Meanwhile each row is also in the
/// crash journal (<see cref="UsageJournal"/>), so a process that dies before its batch lands loses none: the next start
/// spills what the journal still holds.
/// </summary>
internal sealed partial class UsageWriter : BackgroundService, IUsageSink
{
    private readonly UsageWriterOptions _options;
    private readonly UsageStore? _store;
    private readonly UsageSpillFile _spill;
    private UsageJournal? _journal;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Channel<UsageRecord> _pending;
    private readonly Channel<UsageRecord> _overflow = Channel.CreateUnbounded<UsageRecord>(new UnboundedChannelOptions { SingleReader = true });
    /// <summary>Cancels Postgres calls only once the host's shutdown deadline has passed (not on stop itself).</summary>
    private readonly CancellationTokenSource _abort = new();

    // Owned by the write loop.
    private readonly List<UsageRecord> _held = [];
    private readonly List<UsageRecord> _chunk = [];
    private UsageReplayReader? _replay;
    private long _replayedLines;
    private bool _databaseDown;
    private TimeSpan _retryDelay;
    private DateTimeOffset _retryAt;
    private DateTimeOffset _replayBlockedUntil;

    /// <summary>
    /// Rows in <see cref="_pending"/>, near enough: a write is counted just after it lands, a read just after. With
    /// <see cref="_fillAt"/> and <see cref="_filled"/> a write can tell the loop a batch is full, so the loop waits out
    /// a flush window without waking for every row.
    /// </summary>
    private int _queued;
    private int _fillAt = int.MaxValue;
    private TaskCompletionSource? _filled;

    private int _ran;
    private long _discarded, _overflowed, _written, _duplicates, _spilled, _replayed, _rejected, _recovered;

    public UsageWriter(Database database, GeneralSettings settings, TimeProvider time, ILogger<UsageWriter> logger)
        : this(database.Source, UsageWriterOptions.From(settings), time, logger)
    {
    }

    internal UsageWriter(NpgsqlDataSource? source, UsageWriterOptions options, TimeProvider time, ILogger logger)
    {
        _options = options;
        _store = source is null ? null : new UsageStore(source, time);
        _spill = new UsageSpillFile(options.SpillPath);
        _time = time;
        _logger = logger;
        _retryDelay = options.RetryMin;
        _pending = Channel.CreateBounded<UsageRecord>(new BoundedChannelOptions(options.ChannelCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });
    }

    internal UsageSpillFile Spill => _spill;

    /// <summary>The write loop holds a partial batch and waits out its flush window (for tests).</summary>
    internal bool WaitingOutWindow => Volatile.Read(ref _filled) is not null;

    internal UsageWriterStats Stats => new(
        Interlocked.Read(ref _discarded), Interlocked.Read(ref _overflowed), Interlocked.Read(ref _written),
        Interlocked.Read(ref _duplicates), Interlocked.Read(ref _spilled), Interlocked.Read(ref _replayed),
        Interlocked.Read(ref _rejected), Interlocked.Read(ref _recovered), _journal?.Full ?? 0);

    /// <summary>The crash journal's file, or null when rows go without one (none configured, or it could not be opened).</summary>
    internal string? JournalPath => _journal?.Path;

    /// <summary>Never blocks, never throws: a channel write, or on overflow an unbounded queue the spill loop drains.</summary>
    public void Record(UsageRecord record)
    {
        if (_store is null)
        {
            Interlocked.Increment(ref _discarded);
            return;
        }
        if (_journal is { } journal) record.JournalMark = journal.Append(record);
        if (_pending.Writer.TryWrite(record))
        {
            if (Interlocked.Increment(ref _queued) >= Volatile.Read(ref _fillAt)) Volatile.Read(ref _filled)?.TrySetResult();
            return;
        }
        Interlocked.Increment(ref _overflowed);
        if (_overflow.Writer.TryWrite(record)) return;
        // Shutdown has drained already: a request that finished later goes straight to disk.
        try
        {
            _spill.Append([record]);
            Interlocked.Increment(ref _spilled);
            _journal?.MarkDone(record.JournalMark);
            record.JournalMark = 0;
        }
        catch (Exception e)
        {
            LogLost([record], e);
        }
    }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        if (_store is null) Log.NotRecorded(_logger);
        else if (_options.JournalBytes > 0) OpenJournal();
        return base.StartAsync(cancellationToken);
    }

    /// <summary>Spills what a process that died left in the journal, then starts it afresh for this one.</summary>
    private void OpenJournal()
    {
        var path = _spill.Path + ".journal";
        UsageJournal journal;
        try
        {
            journal = UsageJournal.Open(path, _options.JournalBytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.JournalUnavailable(_logger, path, e);
            return;
        }
        try
        {
            if (journal.Pending.Count > 0 || journal.Unreadable > 0)
            {
                _spill.Append(journal.Pending);
                Interlocked.Add(ref _recovered, journal.Pending.Count);
                Log.Recovered(_logger, journal.Pending.Count, journal.Unreadable, path, _spill.Path);
            }
            journal.Start();
            _journal = journal;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The pending rows stay in the journal for a later start.
            Log.JournalUnavailable(_logger, path, e);
            journal.Dispose();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        Volatile.Write(ref _ran, 1);
        if (_store is null) return;
        if (_spill.HasBacklog) Log.BacklogFound(_logger, _spill.Path);
        var spilling = Task.Run(SpillOverflowAsync, CancellationToken.None);
        var batch = new List<UsageRecord>(_options.MaxBatchRows);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await CollectAsync(batch, stoppingToken);
                await WriteAsync(batch);
                batch.Clear();
                if (MayReplay() && !stoppingToken.IsCancellationRequested) await ReplayAsync();
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                // A bug must not stop the host or lose the batch (it stays in `batch` and is written next round).
                Log.LoopFailed(_logger, e);
                try
                {
                    await Task.Delay(_options.RetryMax, _time, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
        // The backlog on disk is safe; shutdown only writes what is in memory.
        await DrainAsync(batch);
        _overflow.Writer.TryComplete();
        await spilling;
        _replay?.Dispose();
        _replay = null;
        await _store.DisposeAsync();
    }

    /// <summary>
    /// Shutdown writes everything still in memory to Postgres, or to the spill file when Postgres is down. If the
    /// host's deadline passes first, Postgres calls are cancelled and the rest is spilled (quick, local disk).
    /// </summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        using (cancellationToken.Register(static state => ((CancellationTokenSource)state!).Cancel(), _abort))
        {
            await base.StopAsync(cancellationToken);
        }
        if (ExecuteTask is { IsCompleted: false } running)
        {
            _abort.Cancel();
            await running.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        // Stopped before the loop ever ran (BackgroundService skips ExecuteAsync when stopped first): drain here.
        if (ExecuteTask is not null && Volatile.Read(ref _ran) == 0) await ExecuteAsync(new CancellationToken(canceled: true));
    }

    public override void Dispose()
    {
        base.Dispose();
        _abort.Dispose();
        _replay?.Dispose();
        _store?.Dispose();
        _journal?.Dispose();
    }

    /// <summary>Fills the batch until <see cref="UsageWriterOptions.FlushAtRows"/> rows or one interval after the first row.</summary>
    private async Task CollectAsync(List<UsageRecord> batch, CancellationToken stoppingToken)
    {
        var reader = _pending.Reader;
        if (_held.Count > 0)
        {
            batch.AddRange(_held);
            _held.Clear();
        }
        if (batch.Count == 0)
        {
            // Idle: sleep until a row arrives; with a backlog to replay, only until Postgres may be tried again.
            var idle = !_spill.HasBacklog ? Timeout.InfiniteTimeSpan
                : MayReplay() ? TimeSpan.Zero
                : Max(_retryAt, _replayBlockedUntil) - _time.GetUtcNow();
            if (!await WaitForRowsAsync(reader, idle, stoppingToken)) return;
        }
        var closes = _time.GetTimestamp() + (long)(_options.FlushInterval.TotalSeconds * _time.TimestampFrequency);
        while (true)
        {
            TakePending(batch);
            var open = _time.GetElapsedTime(_time.GetTimestamp(), closes);
            if (batch.Count >= Math.Min(_options.FlushAtRows, _options.MaxBatchRows) || open <= TimeSpan.Zero) return;
            // Wait out the window without waking for every row (a thread wake-up per request on a busy core): the
            // write that fills the batch ends the wait early.
            var filled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _filled, filled);
            // A full fence before reading the count, as Record has one after writing it: one of the two sees the other.
            Interlocked.Exchange(ref _fillAt, _options.FlushAtRows - batch.Count);
            if (Volatile.Read(ref _queued) >= _options.FlushAtRows - batch.Count) filled.TrySetResult();
            try
            {
                await filled.Task.WaitAsync(open, _time, stoppingToken);
            }
            catch (TimeoutException)
            {
                TakePending(batch);
                return;
            }
            finally
            {
                Volatile.Write(ref _fillAt, int.MaxValue);
                Volatile.Write(ref _filled, null);
            }
        }
    }

    /// <summary>Moves rows from the channel into the batch, up to <see cref="UsageWriterOptions.MaxBatchRows"/>.</summary>
    private void TakePending(List<UsageRecord> batch)
    {
        var taken = 0;
        while (batch.Count < _options.MaxBatchRows && _pending.Reader.TryRead(out var row))
        {
            batch.Add(row);
            taken++;
        }
        if (taken > 0) Interlocked.Add(ref _queued, -taken);
    }

    private async Task<bool> WaitForRowsAsync(ChannelReader<UsageRecord> reader, TimeSpan timeout, CancellationToken stoppingToken)
    {
        if (reader.TryPeek(out _)) return true;
        if (timeout == Timeout.InfiniteTimeSpan) return await reader.WaitToReadAsync(stoppingToken);
        if (timeout <= TimeSpan.Zero) return false;
        using var timer = new CancellationTokenSource(timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, timer.Token);
        try
        {
            return await reader.WaitToReadAsync(linked.Token);
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>Rows in memory go first (a hard kill would lose them); the backlog on disk is safe and can wait.</summary>
    private async Task WriteAsync(List<UsageRecord> batch)
    {
        if (batch.Count == 0) return;
        if (MayTryDatabase() && await TryInsertAsync(batch))
        {
            Landed(batch);
            return;
        }
        try
        {
            _spill.Append(batch);
            Interlocked.Add(ref _spilled, batch.Count);
            Landed(batch);
        }
        catch (Exception e)
        {
            // Neither Postgres nor the disk: keep them in memory and try both again next round.
            Log.SpillFailed(_logger, batch.Count, _spill.Path, e);
            _held.AddRange(batch);
        }
    }

    /// <summary>On stop: everything still in memory goes to Postgres, or to disk once Postgres has failed.</summary>
    private async Task DrainAsync(List<UsageRecord> batch)
    {
        _pending.Writer.TryComplete();
        batch.AddRange(_held);
        _held.Clear();
        while (true)
        {
            TakePending(batch);
            if (batch.Count == 0) return;
            await WriteAsync(batch);
            batch.Clear();
            if (_held.Count > 0)
            {
                LogLost(_held, null);
                _held.Clear();
            }
        }
    }

    /// <summary>Appends overflowed rows to the spill file as fast as the disk takes them, apart from Postgres.</summary>
    private async Task SpillOverflowAsync()
    {
        var reader = _overflow.Reader;
        var rows = new List<UsageRecord>();
        while (rows.Count > 0 || await reader.WaitToReadAsync())
        {
            while (rows.Count < _options.MaxBatchRows && reader.TryRead(out var row)) rows.Add(row);
            try
            {
                _spill.Append(rows);
                Interlocked.Add(ref _spilled, rows.Count);
                Landed(rows);
                rows.Clear();
            }
            catch (Exception e)
            {
                Log.SpillFailed(_logger, rows.Count, _spill.Path, e);
                if (_abort.IsCancellationRequested)
                {
                    LogLost(rows, e);
                    rows.Clear();
                    continue;
                }
                try
                {
                    await Task.Delay(_options.RetryMax, _time, _abort.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }
    }

    /// <summary>Neither Postgres nor the spill file took these rows; those in the journal wait there for the next start.</summary>
    private void LogLost(List<UsageRecord> rows, Exception? exception)
    {
        var kept = rows.Count(r => r.JournalMark > 0);
        if (kept > 0) Log.LeftInJournal(_logger, kept, _journal?.Path);
        if (rows.Count > kept) Log.Lost(_logger, rows.Count - kept, _spill.Path, exception);
    }

    /// <summary>The rows are in Postgres or on disk: the journal may let their space go.</summary>
    private void Landed(List<UsageRecord> rows)
    {
        if (_journal is not { } journal) return;
        foreach (var row in rows)
        {
            journal.MarkDone(row.JournalMark);
            row.JournalMark = 0;
        }
        journal.Advance();
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;
}
