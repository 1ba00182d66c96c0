
namespace OllamaSimulator.Recording;

/// <summary>
/// The last <see cref="Capacity"/> requests and the outcome counters over generation requests.
/// A reset starts a new epoch, so requests still running from before it cannot skew the fresh counters.
/// </summary>
internal sealed class RequestLog
{
    public const int Capacity = 1000;

    private readonly Lock _lock = new();
    private readonly Queue<RequestRecord> _records = new();
    private long _nextId;
    private int _epoch;
    private long _received, _active, _completed, _cancelled, _rejected, _faulted;

    public RequestRecord Begin(HttpRequest request, byte[] body, bool isGeneration)
    {
        var headers = new KeyValuePair<string, string>[request.Headers.Count];
        var i = 0;
        foreach (var (name, values) in request.Headers) headers[i++] = new(name, values.ToString());

        lock (_lock)
        {
            var record = new RequestRecord(++_nextId, _epoch, request.Method, request.Path.Value ?? "/", headers, body, DateTimeOffset.UtcNow, isGeneration);
            _records.Enqueue(record);
            while (_records.Count > Capacity) _records.Dequeue();
            if (isGeneration)
            {
                _received++;
                _active++;
            }
            return record;
        }
    }

    /// <summary>Sets the outcome once; later calls for the same request are ignored.</summary>
    public void Finish(RequestRecord record, Outcome outcome, int status)
    {
        lock (_lock)
        {
            if (record.Outcome != Outcome.Active) return;
            record.Outcome = outcome;
            record.Status = status;
            if (!record.IsGeneration || record.Epoch != _epoch) return;
            _active--;
            switch (outcome)
            {
                case Outcome.Completed: _completed++; break;
                case Outcome.Cancelled: _cancelled++; break;
                case Outcome.Rejected: _rejected++; break;
                case Outcome.Faulted: _faulted++; break;
            }
        }
    }

    public SimStats Stats(int held, int queued)
    {
        lock (_lock) return new SimStats(_received, _active, _completed, _cancelled, _rejected, _faulted, held, queued);
    }

    public RequestRecord[] Snapshot()
    {
        lock (_lock) return _records.ToArray();
    }

    public void Clear()
    {
        lock (_lock)
        {
            _records.Clear();
            _epoch++;
            _received = _active = _completed = _cancelled = _rejected = _faulted = 0;
        }
    }
}
