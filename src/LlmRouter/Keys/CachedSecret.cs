using LlmRouter.Keys.Storage;

namespace LlmRouter.Keys;

/// <summary>
/// What the cache knows about one secret hash: the key it opens (with the secret's own expiry), or that no such
/// secret exists (<see cref="Key"/> null, remembered until <see cref="UnknownUntil"/>).
/// </summary>
/// <param name="Sequence">When this entry was written, in cache writes; a slower read never overwrites a newer entry.</param>
internal sealed record CachedSecret(
    KeyRecord? Key, bool Revoked, DateTimeOffset SecretCreatedAt, DateTimeOffset? SecretExpiresAt, DateTimeOffset UnknownUntil, long Sequence)
{
    private static readonly KeyLookup InvalidLookup = new(KeyLookupStatus.Invalid, null);

    public bool IsUnknown => Key is null;

    public static CachedSecret From(SecretState state, long sequence) =>
        new(state.Key.ToRecord(), state.Key.RevokedAt is not null, state.CreatedAt, state.ExpiresAt, default, sequence);

    public static CachedSecret Unknown(DateTimeOffset until, long sequence) => new(null, false, default, null, until, sequence);

    /// <summary>Expired, blocked, revoked, rotated out and unknown all look the same to the caller: invalid.</summary>
    public KeyLookup Evaluate(DateTimeOffset now)
    {
        var key = Key;
        if (key is null || Revoked || key.Blocked || key.ExpiresAt <= now || SecretExpiresAt <= now) return InvalidLookup;
        return new KeyLookup(KeyLookupStatus.Valid, key);
    }
}
