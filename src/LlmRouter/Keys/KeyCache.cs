using System.Collections.Concurrent;
using LlmRouter.Data;
using LlmRouter.Keys.Storage;

namespace LlmRouter.Keys;

/// <summary>
/// <see cref="IKeyAuthenticator"/> from an in-process cache: a hit is a hash and a dictionary read, no I/O. A miss costs
/// one Postgres lookup, shared by every concurrent request for the same secret. When Postgres cannot be asked, cached
/// keys keep working and uncached ones are <see cref="KeyLookupStatus.Unavailable"/> (503), never invalid.
/// Changes arrive through <see cref="Apply"/> (from this replica's admin API or from Redis) and, as a backstop,
/// through <see cref="RecheckAllAsync"/>.
/// </summary>
internal sealed partial class KeyCache(KeySecretReader reader, DatabaseState database, KeyCacheOptions options, TimeProvider time, ILogger<KeyCache> logger)
    : IKeyAuthenticator
{
    private static readonly KeyLookup Invalid = new(KeyLookupStatus.Invalid, null);
    private static readonly KeyLookup Unavailable = new(KeyLookupStatus.Unavailable, null);

    private readonly ConcurrentDictionary<SecretHash, CachedSecret> _entries = new();
    private readonly ConcurrentDictionary<SecretHash, Lazy<Task<CachedSecret?>>> _inflight = new();
    private readonly SemaphoreSlim _lookupSlots = new(options.MaxConcurrentLookups, options.MaxConcurrentLookups);
    // Every write goes through this lock; reads never take it.
    private readonly Lock _writeLock = new();
    private long _sequence;
    // Bumped by every change event: a miss that read Postgres before the event must not cache what it read.
    private long _eventGeneration;
    private int _unknownCount;
    private int _unavailableLogged;
    // After a failed lookup, further misses answer "unavailable" at once for a moment instead of each waiting on a dead database.
    private long _failFastUntilTicks;

    /// <summary>Entries held, for tests and metrics.</summary>
    public int Count => _entries.Count;

    public ValueTask<KeyLookup> AuthenticateAsync(string secret, SecretHash hash, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (!KeySecret.HasValidShape(secret)) return ValueTask.FromResult(Invalid);
        if (_entries.TryGetValue(hash, out var entry) && (!entry.IsUnknown || entry.UnknownUntil > now))
            return ValueTask.FromResult(entry.Evaluate(now));
        // Without a database there are no virtual keys at all.
        if (!reader.IsConfigured) return ValueTask.FromResult(Invalid);
        return LookupAsync(hash, now, cancellationToken);
    }

    private async ValueTask<KeyLookup> LookupAsync(SecretHash hash, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (!database.IsReady || now.UtcTicks < Volatile.Read(ref _failFastUntilTicks)) return Unavailable;
        var load = _inflight.GetOrAdd(hash, h => new Lazy<Task<CachedSecret?>>(() => LoadAsync(h)));
        var entry = await load.Value.WaitAsync(cancellationToken);
        return entry?.Evaluate(now) ?? Unavailable;
    }

    /// <summary>One lookup per hash however many requests wait for it; null when Postgres could not answer.</summary>
    private async Task<CachedSecret?> LoadAsync(SecretHash hash)
    {
        try
        {
            // A caller that missed the cache just as another load of this hash stored its answer and left _inflight
            // starts a load of its own: it takes that answer instead of asking Postgres again.
            if (_entries.TryGetValue(hash, out var stored) && (!stored.IsUnknown || stored.UnknownUntil > time.GetUtcNow())) return stored;
            if (!await _lookupSlots.WaitAsync(options.LookupWait)) return null;
            try
            {
                var generation = Volatile.Read(ref _eventGeneration);
                var state = await reader.FindAsync(hash, CancellationToken.None);
                Volatile.Write(ref _unavailableLogged, 0);
                lock (_writeLock)
                {
                    var sequence = ++_sequence;
                    var entry = state is null ? CachedSecret.Unknown(time.GetUtcNow() + options.NegativeTtl, sequence) : CachedSecret.From(state, sequence);
                    // A change event raced this read: answer from it once, but do not cache what may be stale.
                    if (generation == _eventGeneration) Store(hash, entry);
                    return entry;
                }
            }
            finally
            {
                _lookupSlots.Release();
            }
        }
        catch (Exception e) when (KeyDb.IsUnavailable(e))
        {
            Volatile.Write(ref _failFastUntilTicks, (time.GetUtcNow() + options.FailFastAfterError).UtcTicks);
            if (Interlocked.Exchange(ref _unavailableLogged, 1) == 0) Log.LookupUnavailable(logger, e.Message);
            return null;
        }
        finally
        {
            _inflight.TryRemove(hash, out _);
        }
    }

    /// <summary>
    /// Takes a change into account at once, without waiting for Postgres. With <paramref name="row"/> (the replica that
    /// made the change has it) every cached secret of the key takes the new settings; otherwise restrictive changes
    /// apply now and <see cref="RefreshKeyAsync"/> brings the rest.
    /// </summary>
    public void Apply(KeyChange change, ApiKeyRow? row = null)
    {
        var record = row?.ToRecord();
        lock (_writeLock)
        {
            _eventGeneration++;
            foreach (var (hash, entry) in _entries)
            {
                if (change.Kind == KeyChangeKind.Minted)
                {
                    // A new secret may have been tried (and remembered as unknown) just before it existed.
                    if (entry.IsUnknown) Remove(hash);
                    continue;
                }
                if (entry.Key?.Id != change.KeyId) continue;
                var updated = record is not null ? entry with { Key = record, Revoked = row!.RevokedAt is not null } : entry;
                updated = change.Kind switch
                {
                    KeyChangeKind.Revoked => updated with { Revoked = true },
                    KeyChangeKind.Blocked => updated with { Key = updated.Key! with { Blocked = true } },
                    KeyChangeKind.Rotated when entry.SecretCreatedAt < change.RotatedAt =>
                        updated with { SecretExpiresAt = Earliest(entry.SecretExpiresAt, change.OldSecretsExpireAt) },
                    _ => updated,
                };
                Store(hash, updated with { Sequence = ++_sequence });
            }
        }
    }

    /// <summary>Re-reads one key's secrets after a change event and replaces what is cached for them.</summary>
    public async Task RefreshKeyAsync(Guid keyId, CancellationToken cancellationToken)
    {
        var cached = _entries.Where(e => e.Value.Key?.Id == keyId).Select(e => e.Key).ToList();
        if (cached.Count == 0) return;
        var start = Volatile.Read(ref _sequence);
        var states = await reader.FindByKeyAsync(keyId, cancellationToken);
        Replace(cached, states, start);
    }

    /// <summary>
    /// Re-reads every cached secret from Postgres in one query and replaces what changed: the backstop for change
    /// messages that never arrived. Returns the number of entries that were re-checked.
    /// </summary>
    public async Task<int> RecheckAllAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var known = new List<SecretHash>(_entries.Count);
        foreach (var (hash, entry) in _entries)
        {
            if (!entry.IsUnknown) known.Add(hash);
            else if (entry.UnknownUntil <= now) lock (_writeLock) { if (_entries.TryGetValue(hash, out var current) && ReferenceEquals(current, entry)) Remove(hash); }
        }
        if (known.Count == 0) return 0;
        var start = Volatile.Read(ref _sequence);
        var states = await reader.FindManyAsync(known, cancellationToken);
        Replace(known, states, start);
        return known.Count;
    }

    /// <summary>Writes what Postgres said about <paramref name="hashes"/>, except for entries written after the read began.</summary>
    private void Replace(IReadOnlyList<SecretHash> hashes, IReadOnlyList<SecretState> states, long readStart)
    {
        var byHash = states.ToDictionary(s => s.Hash);
        lock (_writeLock)
        {
            foreach (var hash in hashes)
            {
                if (!_entries.TryGetValue(hash, out var current) || current.Sequence > readStart) continue;
                if (byHash.TryGetValue(hash, out var state)) Store(hash, CachedSecret.From(state, ++_sequence));
                else Remove(hash);
            }
        }
    }

    // Callers hold _writeLock.
    private void Store(SecretHash hash, CachedSecret entry)
    {
        var had = _entries.TryGetValue(hash, out var previous);
        if (entry.IsUnknown && !(had && previous!.IsUnknown))
        {
            if (_unknownCount >= options.MaxNegativeEntries)
            {
                if (had) Remove(hash);
                return;
            }
            _unknownCount++;
        }
        else if (!entry.IsUnknown && had && previous!.IsUnknown)
        {
            _unknownCount--;
        }
        _entries[hash] = entry;
    }

    private void Remove(SecretHash hash)
    {
        if (_entries.TryRemove(hash, out var removed) && removed.IsUnknown) _unknownCount--;
    }

    private static DateTimeOffset? Earliest(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null ? a : a < b ? a : b;

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Key lookup failed, database unreachable ({Reason}); cached keys keep working, new keys get 503 until it is back")]
        public static partial void LookupUnavailable(ILogger logger, string reason);
    }
}
