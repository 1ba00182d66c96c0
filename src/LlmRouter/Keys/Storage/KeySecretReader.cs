using Microsoft.EntityFrameworkCore;

namespace LlmRouter.Keys.Storage;

/// <summary>One secret's state as the cache needs it: the secret's own lifetime plus its key's row.</summary>
internal sealed record SecretState(SecretHash Hash, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt, ApiKeyRow Key);

/// <summary>
/// The read side for <see cref="KeyCache"/>: by hash on a cache miss, by key on a change event, and many hashes at once
/// for the periodic re-check. Failures are thrown as they are; the cache decides what they mean.
/// </summary>
internal sealed class KeySecretReader(KeyDb db)
{
    /// <summary>Postgres handles a few thousand array elements per statement comfortably.</summary>
    private const int BatchSize = 5000;

    public bool IsConfigured => db.IsConfigured;

    public async Task<SecretState?> FindAsync(SecretHash hash, CancellationToken cancellationToken)
    {
        var hex = hash.ToHex();
        await using var context = db.CreateContext();
        var row = await Joined(context).Where(j => j.Secret.Hash == hex).FirstOrDefaultAsync(cancellationToken);
        return row is null ? null : new SecretState(hash, row.Secret.CreatedAt, row.Secret.ExpiresAt, row.Key);
    }

    public async Task<IReadOnlyList<SecretState>> FindByKeyAsync(Guid keyId, CancellationToken cancellationToken)
    {
        await using var context = db.CreateContext();
        var rows = await Joined(context).Where(j => j.Key.Id == keyId).ToListAsync(cancellationToken);
        return [.. rows.Select(r => new SecretState(SecretHash.FromHex(r.Secret.Hash), r.Secret.CreatedAt, r.Secret.ExpiresAt, r.Key))];
    }

    public async Task<IReadOnlyList<SecretState>> FindManyAsync(IReadOnlyList<SecretHash> hashes, CancellationToken cancellationToken)
    {
        var found = new List<SecretState>(hashes.Count);
        await using var context = db.CreateContext();
        foreach (var chunk in hashes.Select(h => h.ToHex()).Chunk(BatchSize))
        {
            var rows = await Joined(context).Where(j => chunk.Contains(j.Secret.Hash)).ToListAsync(cancellationToken);
            found.AddRange(rows.Select(r => new SecretState(SecretHash.FromHex(r.Secret.Hash), r.Secret.CreatedAt, r.Secret.ExpiresAt, r.Key)));
        }
        return found;
    }

    private static IQueryable<SecretWithKey> Joined(KeysDbContext context) =>
        context.Secrets.Join(context.Keys, s => s.KeyId, k => k.Id, (s, k) => new SecretWithKey { Secret = s, Key = k });

    // A member-init type (not a positional record) so EF can translate filters on its members.
    private sealed class SecretWithKey
    {
        public required ApiKeySecretRow Secret { get; init; }
        public required ApiKeyRow Key { get; init; }
    }
}
