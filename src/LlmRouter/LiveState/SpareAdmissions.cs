using System.Collections.Concurrent;
using LlmRouter.Hosting;

namespace LlmRouter.LiveState;

/// <summary>
/// Admissions taken ahead ("spares"). While a key sends requests for a model group one after another, the admission of
/// its next request is taken while the current one is served, so that the next request finds its deployment slot and
/// key share ready and does not wait for a Redis round trip.
/// <para>
/// A spare goes through the same atomic script as any admission, so no limit can be overshot; it only counts from a
/// little earlier. So that the early count cannot be noticed, a spare is taken only when the key has no parallel limit
/// and room under each of its other limits for <see cref="LiveScripts.PlentyLeft"/> more requests like the last one,
/// and when no deployment of the group, nor the backend, caps requests in flight (a spare would hold a slot that
/// another replica may need). Nor is one taken for least-busy routing over several deployments: that choice follows
/// the in-flight counts of the moment, and a choice made ahead would be stale by the time a request used it.
/// </para>
/// <para>
/// A request takes a spare only within the minute it was admitted in, on a deployment the request may go to, and when
/// the spare's key share is at least the request's (a spare reserves a quarter more than the request it was taken
/// after). Otherwise, once it has waited <see cref="Ttl"/>, or when its deployment fails, the spare is released: its
/// slot, its key share and its request counts are all given back.
/// </para>
/// </summary>
internal sealed class SpareAdmissions : IDisposable
{
    /// <summary>How long a spare waits for its request, and how close together requests must come for one to be taken.</summary>
    public static readonly TimeSpan Ttl = TimeSpan.FromSeconds(2);

    /// <summary>A slot with no request for this long is forgotten.</summary>
    private static readonly TimeSpan Forget = Ttl * 30;

    private readonly ConcurrentDictionary<(Guid Key, string Group), Slot> _slots = new();
    private readonly Func<AdmissionRequest, Task<AdmissionResult>> _admit;
    private readonly Func<Spare, Task> _release;
    private readonly TimeProvider _time;
    private readonly ITimer _sweep;
    private volatile bool _closed;
    private long _used;
    private long _released;

    /// <param name="time">The clock requests are admitted by (their <see cref="AdmissionRequest.Now"/>).</param>
    /// <param name="admit">Takes one admission in Redis (the spare's).</param>
    /// <param name="release">Gives an unused spare back.</param>
    public SpareAdmissions(TimeProvider time, Func<AdmissionRequest, Task<AdmissionResult>> admit, Func<Spare, Task> release)
    {
        _time = time;
        _admit = admit;
        _release = release;
        var period = Ttl / 4;
        _sweep = time.CreateTimer(static s => ((SpareAdmissions)s!).Sweep(), this, period, period);
    }

    /// <summary>Requests that were admitted with a spare.</summary>
    public long Used => Interlocked.Read(ref _used);

    /// <summary>Spares given back unused.</summary>
    public long Released => Interlocked.Read(ref _released);

    /// <summary>Spares waiting for a request now.</summary>
    public int Waiting => _slots.Values.Count(slot => Volatile.Read(ref slot.Spare) is not null);

    /// <summary>Whether <paramref name="request"/> may take a spare, and have one taken after it.</summary>
    public static bool Applies(AdmissionRequest request)
    {
        if (!request.MayUseSpare || request.BackendLimit is not null || request.Key is { MaxParallel: not null }) return false;
        // Least-busy picks by the in-flight counts of the moment: a choice made ahead could be stale when it is used.
        if (request.LeastBusy && request.Candidates.Count > 1) return false;
        foreach (var candidate in request.Candidates)
        {
            if (candidate is not { MaxParallelRequests: null, Rpm: null, Tpm: null }) return false;
        }
        return request.Candidates.Count > 0;
    }

    /// <summary>
    /// The spare waiting for <paramref name="request"/>'s key and group, if it fits the request. <paramref name="ticket"/>
    /// is set when a spare should be taken after this request: pass it to <see cref="After"/> once the request is admitted.
    /// </summary>
    public AdmissionResult? Take(AdmissionRequest request, out Slot? ticket)
    {
        var now = request.Now;
        var name = (request.Key?.KeyId ?? Guid.Empty, request.Candidates[0].ModelName);
        Spare? spare, unfit = null;
        Slot slot;
        while (true)
        {
            slot = _slots.GetOrAdd(name, static _ => new Slot());
            Monitor.Enter(slot);
            if (!slot.Forgotten) break;
            // The sweep forgot it just now: take the new one.
            Monitor.Exit(slot);
        }
        try
        {
            // Back to back: this request came within a spare's lifetime of the previous one.
            var backToBack = now - slot.LastArrival <= Ttl;
            slot.LastArrival = now;
            spare = slot.Spare;
            slot.Spare = null;
            if (spare is not null && !Fits(spare, request, now))
            {
                unfit = spare;
                spare = null;
            }
            ticket = backToBack && !slot.Fetching && !_closed ? slot : null;
            if (ticket is not null) slot.Fetching = true;
        }
        finally
        {
            Monitor.Exit(slot);
        }
        if (unfit is not null) _ = Release(unfit);
        if (spare is null) return null;
        Interlocked.Increment(ref _used);
        return spare.Result;
    }

    /// <summary>With a ticket from <see cref="Take"/>: takes the next spare if this admission leaves plenty, else lets the ticket go.</summary>
    /// <param name="result">Null when the admission failed.</param>
    public void After(Slot? ticket, AdmissionRequest request, AdmissionResult? result)
    {
        if (ticket is null) return;
        if (result is { Status: AdmissionStatus.Admitted, PlentyLeft: true })
        {
            var fetch = FetchAsync(ticket, request);
            lock (ticket) if (ticket.Fetching) ticket.Fetch = fetch;
        }
        else
        {
            lock (ticket) ticket.Fetching = false;
        }
    }

    private async Task FetchAsync(Slot slot, AdmissionRequest after)
    {
        Spare? spare = null;
        try
        {
            var request = after with
            {
                LeaseId = Ids.NewHex(),
                RequestId = Ids.NewHex(),
                MayUseSpare = false,
                Key = after.Key is { } key ? key with { ReserveTokens = key.ReserveTokens * 5 / 4, ReserveMicros = key.ReserveMicros * 5 / 4 } : null,
            };
            var result = await _admit(request);
            if (result.Status == AdmissionStatus.Admitted) spare = new Spare(result, request);
        }
        catch (Exception)
        {
            // No spare this time: the next request is admitted the ordinary way (and sees the failure itself).
        }
        lock (slot)
        {
            slot.Fetching = false;
            slot.Fetch = null;
            if (spare is not null && spare.Result.PlentyLeft && slot.Spare is null && !_closed)
            {
                slot.Spare = spare;
                spare = null;
            }
        }
        if (spare is not null) await Release(spare);
    }

    private static bool Fits(Spare spare, AdmissionRequest request, DateTimeOffset now)
    {
        if (now - spare.Request.Now > Ttl) return false;
        if (spare.Request.Now.ToUnixTimeSeconds() / 60 != request.Now.ToUnixTimeSeconds() / 60) return false;
        var deployment = spare.Result.Deployment!;
        var allowed = false;
        foreach (var candidate in request.Candidates) allowed |= candidate.Id == deployment.Id;
        if (!allowed) return false;
        return (spare.Request.Key, request.Key) switch
        {
            (null, null) => true,
            ({ } s, { } r) => s.KeyId == r.KeyId && s.RpmLimit == r.RpmLimit && s.TpmLimit == r.TpmLimit && s.QuotaLimit == r.QuotaLimit
                && s.QuotaBucket == r.QuotaBucket && s.BudgetLimitMicros == r.BudgetLimitMicros
                && r.ReserveTokens <= s.ReserveTokens && r.ReserveMicros <= s.ReserveMicros,
            _ => false,
        };
    }

    /// <summary>Releases the spares on <paramref name="deploymentId"/>, which just failed (it may be cooling down now).</summary>
    public void Drop(string deploymentId) => ReleaseWhere(spare => spare.Result.Deployment!.Id == deploymentId);

    /// <summary>Releases every spare and takes no more (at shutdown); completes when Redis has them all back.</summary>
    public Task ReleaseAllAsync()
    {
        _closed = true;
        var released = ReleaseWhere(static _ => true);
        // A spare still being taken releases itself when it arrives.
        foreach (var slot in _slots.Values)
        {
            lock (slot) if (slot.Fetch is { } fetch) released.Add(fetch);
        }
        return Task.WhenAll(released);
    }

    private void Sweep()
    {
        var now = _time.GetUtcNow();
        ReleaseWhere(spare => now - spare.Request.Now > Ttl);
        foreach (var (name, slot) in _slots)
        {
            lock (slot)
            {
                if (slot is not { Spare: null, Fetching: false } || now - slot.LastArrival <= Forget) continue;
                slot.Forgotten = true;
            }
            _slots.TryRemove(new KeyValuePair<(Guid, string), Slot>(name, slot));
        }
    }

    private List<Task> ReleaseWhere(Func<Spare, bool> match)
    {
        var released = new List<Task>();
        foreach (var slot in _slots.Values)
        {
            Spare? spare;
            lock (slot)
            {
                spare = slot.Spare is { } s && match(s) ? s : null;
                if (spare is not null) slot.Spare = null;
            }
            if (spare is not null) released.Add(Release(spare));
        }
        return released;
    }

    private Task Release(Spare spare)
    {
        Interlocked.Increment(ref _released);
        return _release(spare);
    }

    public void Dispose() => _sweep.Dispose();

    /// <summary>One key's requests for one group: the spare waiting for the next one.</summary>
    internal sealed class Slot
    {
        public DateTimeOffset LastArrival = DateTimeOffset.MinValue;
        public Spare? Spare;
        /// <summary>A spare is being taken; no second one is started meanwhile.</summary>
        public bool Fetching;
        public Task? Fetch;
        /// <summary>Removed by the sweep after a long idle spell: a request that still finds it takes a new one.</summary>
        public bool Forgotten;
    }

    /// <param name="Request">What the spare was admitted as: its key share, and its time.</param>
    internal sealed record Spare(AdmissionResult Result, AdmissionRequest Request);
}
