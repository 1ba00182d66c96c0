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
/// another replica may need). Nor is one taken for least-busy, latency- or usage-based routing over several
/// deployments: those choices follow the live numbers of the moment, and a choice made ahead would be stale by the time
/// a request used it.
/// </para>
/// <para>
/// A request takes a spare only within the minute it was admitted in, on a deployment the request may go to, and when
/// the spare's key share is at least the request's (a spare reserves a quarter more than the latest request that took
/// one, or than the request it was taken after). Otherwise, once it has waited <see cref="Ttl"/>, or when its deployment fails, the spare is released: its
/// slot, its key share and its request counts are all given back.
/// </para>
/// <para>
/// A request that takes a spare has it replaced, but not on its own way: the replacement is owed until a request of
/// the slot has finished (its answer sent, <see cref="Finished"/>), and owed replacements go together, in one script
/// call, once enough are owed or the slot is down to its last spare. So that one request at a time still finds a spare
/// while a refill is on its way, a slot whose requests come back to back keeps more than one: two when they come
/// 250 ms or more apart, more when they come quickly, so one Redis call serves several requests and none of them waits
/// for it: up to <see cref="MaxAheadAlone"/> while they come one after another, up to <see cref="MaxAhead"/> when they
/// come together. Only when a request takes the last spare and none is on its way is one sent at once.
/// Requests that come together need more: one that finds no spare while another request of the same key and group is
/// still being admitted through Redis has one taken after it at once, up to <see cref="MaxWaiting"/> waiting, being
/// taken or owed. Under load nearly every request then starts without waiting for Redis, and the spares' admissions
/// share script calls (<see cref="GroupCommit{TItem,TResult}"/>).
/// </para>
/// </summary>
internal sealed class SpareAdmissions : IDisposable
{
    /// <summary>How long a spare waits for its request, and how close together requests must come for one to be taken.</summary>
    public static readonly TimeSpan Ttl = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Spares waiting, being taken or owed, at most, per key and group: room for those kept (<see cref="MaxAhead"/>) and
    /// for many more on their way (with 32 the pool of wrk's 32 connections ran dry while its refills were under way, and
    /// only 55% of its requests found a spare; 75% with 64, measured keeping up to 32). Each counts as a request in flight while it waits; only
    /// parallel limits and least-busy routing read that count, and spares are not taken where either applies. Half of
    /// <see cref="LiveScripts.PlentyLeft"/>, so a key holding them all still has room for as many requests again under
    /// each of its limits. The cap is per key and group on each replica: a key used for several groups, or through
    /// several replicas, can hold that many spares for each.
    /// </summary>
    public const int MaxWaiting = 64;

    /// <summary>
    /// Spares kept, at most, for requests that come quickly (every 30 ms or closer; see <see cref="Target"/>) and
    /// together: more than one of them in flight at a time, on average. Owed replacements then go in calls of
    /// <c>MaxAhead - 2</c>, one call for fourteen requests. At 5,000 requests a second, Redis calls per request were 0.11
    /// with 8 and 0.033 with 32 (with settles waiting 20 ms to ride, <see cref="RidingSettles.DefaultWait"/>).
    /// </summary>
    public const int MaxAhead = 16;

    /// <summary>
    /// Spares kept, at most, for requests that come quickly but one after another. Larger calls cost the router less
    /// but make Redis busy for longer at a time, and a request that comes alone waits for it where Redis shares a CPU
    /// with the backend: phase 1's added p99 (`bench/run.sh --phases 1`, one request at a time, two runs each) was
    /// +553-687 µs keeping 8, +750-862 µs keeping 16, +1,143-1,437 µs keeping 32; later, four runs each, +400-545 µs
    /// keeping 8 this way against +484-575 µs keeping 16 always.
    /// </summary>
    public const int MaxAheadAlone = 8;

    /// <summary>Owed replacements are sent at once when a slot has no more spares than this left.</summary>
    private const int LowWater = 1;

    /// <summary>A slot with no request for this long is forgotten.</summary>
    private static readonly TimeSpan Forget = Ttl * 30;

    private readonly ConcurrentDictionary<(Guid Key, string Group), Slot> _slots = new();
    private readonly Func<IReadOnlyList<AdmissionRequest>, Task<AdmissionResult>[]> _admit;
    private readonly Func<Spare, Task> _release;
    private readonly TimeProvider _time;
    private readonly ITimer _sweep;
    private volatile bool _closed;
    private long _used;
    private long _released;
    /// <summary>Spares being taken now, over every slot; at shutdown <see cref="_idle"/> completes when it reaches zero.</summary>
    private int _fetching;
    private readonly TaskCompletionSource _idle = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <param name="time">The clock requests are admitted by (their <see cref="AdmissionRequest.Now"/>).</param>
    /// <param name="admit">Takes admissions in Redis (the spares'), in one script call: one task per request, in order.</param>
    /// <param name="release">Gives an unused spare back.</param>
    public SpareAdmissions(TimeProvider time, Func<IReadOnlyList<AdmissionRequest>, Task<AdmissionResult>[]> admit, Func<Spare, Task> release)
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
    public int Waiting => _slots.Values.Sum(slot => Volatile.Read(ref slot.Count));

    /// <summary>Spares being taken now.</summary>
    public int Taking => Volatile.Read(ref _fetching);

    /// <summary>
    /// Whether <paramref name="request"/> may take a spare, and have one taken after it. Not where latency- or
    /// usage-based routing chooses among several deployments by the numbers each admission brings back: a choice made
    /// ahead could be stale when it is used. (Their settles may still ride: a riding settle runs just ahead of the next
    /// admission, so its numbers are in by then.)
    /// </summary>
    public static bool Applies(AdmissionRequest request) =>
        request.MayUseSpare && !(request.WantsStats && request.Candidates.Count > 1) && Quiet(request);

    /// <summary>
    /// Whether nothing that admits requests reads what <paramref name="request"/>'s admission counts while it runs: no
    /// parallel limit (key, deployment or backend), no deployment rpm/tpm, no least-busy choice among several.
    /// </summary>
    public static bool Quiet(AdmissionRequest request)
    {
        if (request.BackendLimit is not null || request.Key is { MaxParallel: not null }) return false;
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
    /// says whether a spare should be taken after this request: pass it to <see cref="After"/> once the request is admitted.
    /// </summary>
    public AdmissionResult? Take(AdmissionRequest request, out Ticket ticket)
    {
        var now = request.Now;
        var name = (request.Key?.KeyId ?? Guid.Empty, request.Candidates[0].ModelName);
        Spare? spare = null;
        List<Spare>? unfit = null;
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
            var gap = now - slot.LastArrival;
            var backToBack = gap <= Ttl;
            // No gap is the same request again (admitted anew after its key was seeded), or two at once: not a pace.
            if (backToBack && gap > TimeSpan.Zero) slot.Gap = slot.Gap == TimeSpan.MaxValue ? gap : (slot.Gap * 3 + gap) / 4;
            slot.LastArrival = now;
            // Oldest first: a spare that does not fit now (an earlier minute) will not fit a later request either.
            while (slot.Spares.TryDequeue(out var waiting))
            {
                if (Fits(waiting, request, now))
                {
                    spare = waiting;
                    break;
                }
                (unfit ??= []).Add(waiting);
            }
            slot.Count = slot.Spares.Count;
            var pool = slot.Spares.Count + slot.Fetching + slot.Owed;
            var fetch = false;
            var refill = false;
            if (backToBack && pool < MaxWaiting)
            {
                if (spare is not null)
                {
                    // Owe its replacement, and one more while the slot keeps fewer than its requests' pace calls for.
                    slot.Owed += pool + 1 < Target(slot) ? 2 : 1;
                    slot.Last = request;
                    // The last spare gone and none on its way: the next request would find none, so no waiting.
                    refill = slot.Spares.Count == 0 && slot.Fetching == 0;
                }
                else if (slot.Fetching == 0 || slot.Admitting > 0)
                {
                    // None found: take one after it, unless one is on its way already and no other request is being
                    // admitted through Redis meanwhile.
                    fetch = StartFetch();
                    if (fetch) slot.Fetching++;
                }
            }
            if (spare is null) slot.Admitting++;
            ticket = new Ticket(slot, fetch, Admitting: spare is null, refill);
        }
        finally
        {
            Monitor.Exit(slot);
        }
        if (unfit is not null)
        {
            foreach (var stale in unfit) _ = Release(stale);
        }
        if (spare is null) return null;
        Interlocked.Increment(ref _used);
        return spare.Result;
    }

    /// <summary>
    /// How many spares a slot keeps: few enough that each is used well within its <see cref="Ttl"/> (a quarter of it) at
    /// the pace its requests come, at least two; at most <see cref="MaxAhead"/> when they come together (each takes
    /// longer than the gap between requests, so more than one is in flight on average), <see cref="MaxAheadAlone"/>
    /// when they come one after another (one client waiting for each answer before it sends again).
    /// </summary>
    private static int Target(Slot slot)
    {
        var gap = slot.Gap;
        if (gap >= Ttl) return 2;
        var together = Volatile.Read(ref slot.TookTicks) > gap.Ticks;
        return (int)Math.Clamp(Ttl.Ticks / (4 * gap.Ticks), 2, together ? MaxAhead : MaxAheadAlone);
    }

    /// <summary>Counts a spare about to be taken, unless shutting down (counted first, so shutdown cannot miss it).</summary>
    private bool StartFetch(int count = 1)
    {
        Interlocked.Add(ref _fetching, count);
        if (!_closed) return true;
        for (var i = 0; i < count; i++) FetchEnded();
        return false;
    }

    private void FetchEnded()
    {
        if (Interlocked.Decrement(ref _fetching) == 0 && _closed) _idle.TrySetResult();
    }

    /// <summary>
    /// With the ticket from <see cref="Take"/>, once the request is admitted: takes the next spare if the ticket says so
    /// and this admission leaves plenty.
    /// </summary>
    /// <param name="result">Null when the admission failed.</param>
    public void After(Ticket ticket, AdmissionRequest request, AdmissionResult? result)
    {
        if (ticket.Slot is not { } slot) return;
        var fetch = ticket.Fetch && result is { Status: AdmissionStatus.Admitted, PlentyLeft: true };
        if (ticket.Admitting || ticket.Fetch && !fetch)
        {
            lock (slot)
            {
                if (ticket.Admitting) slot.Admitting--;
                if (ticket.Fetch && !fetch) slot.Fetching--;
            }
        }
        if (fetch) Fetch(slot, request, 1);
        else if (ticket.Fetch) FetchEnded();
        if (ticket.Refill) Refill(slot, due: false);
    }

    /// <summary>
    /// Once a request's answer has gone out: sends the replacements its slot owes if enough are owed, or if the slot is
    /// down to its last spare. Off the request's way, so the Redis call does not hold up its answer.
    /// </summary>
    /// <param name="keyId">The request's key (<see cref="Guid.Empty"/> for none).</param>
    /// <param name="group">The model group it was admitted for.</param>
    /// <param name="took">How long the request took, from its arrival to its answer.</param>
    public void Finished(Guid keyId, string group, TimeSpan took)
    {
        if (!_slots.TryGetValue((keyId, group), out var slot)) return;
        // Averaged over the last few answers; two finishing at once may lose one's share, which an average can spare.
        var average = Volatile.Read(ref slot.TookTicks);
        Volatile.Write(ref slot.TookTicks, average == 0 ? took.Ticks : (average * 3 + took.Ticks) / 4);
        if (Volatile.Read(ref slot.Owed) > 0) Refill(slot, due: true);
    }

    /// <param name="due">
    /// True once an answer is out: whatever is owed, when enough is, or the slot is down to its last spare. False when
    /// the last spare was just taken: one, for the next request; the rest waits for an answer, so that spares taken
    /// together are not all left to age together.
    /// </param>
    private void Refill(Slot slot, bool due)
    {
        int count;
        AdmissionRequest after;
        lock (slot)
        {
            if (slot.Owed == 0 || slot.Last is null) return;
            if (due && slot.Spares.Count > LowWater && slot.Owed < Target(slot) - 2) return;
            count = due ? Math.Min(slot.Owed, Fresh(slot)) : 1;
            // Any taken now would go stale before a request came for it (requests a second or more apart with short
            // answers): the next request takes the last spare and has one taken at once.
            if (count <= 0) return;
            after = slot.Last;
            slot.Owed -= count;
            if (!StartFetch(count)) return;
            slot.Fetching += count;
        }
        Fetch(slot, after, count);
    }

    /// <summary>
    /// How many spares taken now would each find a request well within its <see cref="Ttl"/> (three quarters of it) and
    /// within this minute, if requests keep coming at the slot's pace after those already waiting. A spare counts in the
    /// minute it is taken in and serves only that minute's requests: one left at the minute's end is given back unused,
    /// a Redis call for nothing, and until then it reads as used in the key's <c>x-ratelimit-remaining-*</c>.
    /// </summary>
    private int Fresh(Slot slot)
    {
        if (slot.Gap == TimeSpan.MaxValue) return 1;
        var now = _time.GetUtcNow();
        // The request after those waiting comes about a gap after the last one, the next a gap later, and so on.
        var within = now - slot.LastArrival + Ttl * 3 / 4;
        var minuteLeft = TimeBuckets.NextMinute(now) - slot.LastArrival;
        if (minuteLeft < within) within = minuteLeft;
        return (int)Math.Min(MaxWaiting, within.Ticks / slot.Gap.Ticks) - slot.Spares.Count;
    }

    /// <summary>Takes <paramref name="count"/> spares like <paramref name="after"/>, in one script call.</summary>
    private void Fetch(Slot slot, AdmissionRequest after, int count)
    {
        var requests = new AdmissionRequest[count];
        // Counted now, in this minute, and living from now: owed ones are taken a whole answer after their request.
        var first = requests[0] = after with
        {
            Now = _time.GetUtcNow(),
            LeaseId = Ids.NewHex(),
            RequestId = Ids.NewHex(),
            MayUseSpare = false,
            Key = after.Key is { } key ? key with { ReserveTokens = key.ReserveTokens * 5 / 4, ReserveMicros = key.ReserveMicros * 5 / 4 } : null,
            SameAs = null,
        };
        // The rest are the same admission again: Redis is sent it once, with their ids.
        for (var i = 1; i < count; i++) requests[i] = first with { LeaseId = Ids.NewHex(), RequestId = Ids.NewHex(), SameAs = first };
        Task<AdmissionResult>[]? admitted = null;
        try
        {
            admitted = _admit(requests);
        }
        catch (Exception)
        {
            // Handled per spare below.
        }
        for (var i = 0; i < count; i++) _ = KeepAsync(slot, requests[i], admitted?[i]);
    }

    /// <summary>Puts a spare in its slot once Redis has admitted it (or gives it back when the slot cannot use it).</summary>
    private async Task KeepAsync(Slot slot, AdmissionRequest request, Task<AdmissionResult>? admitting)
    {
        Spare? spare = null;
        try
        {
            if (admitting is not null && await admitting is { Status: AdmissionStatus.Admitted } result) spare = new Spare(result, request);
        }
        catch (Exception)
        {
            // No spare this time: the next request is admitted the ordinary way (and sees the failure itself).
        }
        try
        {
            lock (slot)
            {
                slot.Fetching--;
                if (spare is not null && spare.Result.PlentyLeft && !slot.Forgotten && !_closed)
                {
                    slot.Spares.Enqueue(spare);
                    slot.Count = slot.Spares.Count;
                    spare = null;
                }
            }
            if (spare is not null) await Release(spare);
        }
        finally
        {
            FetchEnded();
        }
    }

    private static bool Fits(Spare spare, AdmissionRequest request, DateTimeOffset now)
    {
        if (now - spare.Request.Now > Ttl) return false;
        if (!TimeBuckets.SameMinute(spare.Request.Now, request.Now)) return false;
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
        // A full fence between the flag and the count (see StartFetch): a spare is either counted here or never started.
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref _fetching) == 0) _idle.TrySetResult();
        var released = ReleaseWhere(static _ => true);
        // A spare still being taken releases itself when it arrives.
        released.Add(_idle.Task);
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
                // Its requests stopped coming: nobody needs the replacements owed.
                if (now - slot.LastArrival > Ttl) slot.Owed = 0;
                if (slot is not { Count: 0, Fetching: 0 } || now - slot.LastArrival <= Forget) continue;
                slot.Forgotten = true;
            }
            _slots.TryRemove(new KeyValuePair<(Guid, string), Slot>(name, slot));
        }
    }

    /// <summary>
    /// Takes every waiting spare out without giving it back: Redis lost the counts they held (its state was lost), so a
    /// release would take them off counters rebuilt without them. <paramref name="dropped"/> is told of each.
    /// </summary>
    public void DropUncounted(Action<Spare> dropped)
    {
        if (TakeWhere(static _ => true) is not { } taken) return;
        foreach (var spare in taken) dropped(spare);
    }

    private List<Task> ReleaseWhere(Func<Spare, bool> match)
    {
        var released = new List<Task>();
        if (TakeWhere(match) is { } matched)
        {
            foreach (var spare in matched) released.Add(Release(spare));
        }
        return released;
    }

    private List<Spare>? TakeWhere(Func<Spare, bool> match)
    {
        List<Spare>? matched = null;
        foreach (var slot in _slots.Values)
        {
            lock (slot)
            {
                if (slot.Spares.Count == 0) continue;
                var kept = slot.Spares.Count;
                for (var i = 0; i < kept; i++)
                {
                    var spare = slot.Spares.Dequeue();
                    if (match(spare)) (matched ??= []).Add(spare);
                    else slot.Spares.Enqueue(spare);
                }
                slot.Count = slot.Spares.Count;
            }
        }
        return matched;
    }

    private Task Release(Spare spare)
    {
        Interlocked.Increment(ref _released);
        return _release(spare);
    }

    public void Dispose() => _sweep.Dispose();

    /// <summary>One key's requests for one group: the spares waiting for the next ones, oldest first.</summary>
    internal sealed class Slot
    {
        public DateTimeOffset LastArrival = DateTimeOffset.MinValue;
        /// <summary>The time between its requests, averaged over the last few that came back to back.</summary>
        public TimeSpan Gap = TimeSpan.MaxValue;
        /// <summary>How long its requests take, arrival to answer, averaged over the last few (ticks; 0 before the first).</summary>
        public long TookTicks;
        public readonly Queue<Spare> Spares = new();
        /// <summary><see cref="Spares"/>' length, readable without the lock (for the metrics).</summary>
        public int Count;
        /// <summary>Spares being taken for this slot now.</summary>
        public int Fetching;
        /// <summary>Spares to take once a request has finished (<see cref="Finished"/>), in one call.</summary>
        public int Owed;
        /// <summary>The latest request that took a spare: what the owed ones are taken like.</summary>
        public AdmissionRequest? Last;
        /// <summary>Requests that found no spare and are being admitted through Redis now.</summary>
        public int Admitting;
        /// <summary>Removed by the sweep after a long idle spell: a request that still finds it takes a new one.</summary>
        public bool Forgotten;
    }

    /// <summary>
    /// What <see cref="Take"/> leaves for <see cref="After"/>: whether a spare is to be taken after the request, whether
    /// the request found none (it is being admitted through Redis), and whether the slot's owed spares go at once.
    /// </summary>
    internal readonly record struct Ticket(Slot? Slot, bool Fetch, bool Admitting, bool Refill = false);

    /// <param name="Request">What the spare was admitted as: its key share, and its time.</param>
    internal sealed record Spare(AdmissionResult Result, AdmissionRequest Request);
}
