namespace LlmRouter.Keys;

/// <summary>Resolves a presented secret to a key, from the in-process cache; Postgres only on a cache miss.</summary>
internal interface IKeyAuthenticator
{
    /// <param name="hash">
    /// <paramref name="secret"/>'s <see cref="SecretHash"/>, which the caller has already (the master key check needs it
    /// too); it must be that secret's: the cache is looked up by it.
    /// </param>
    ValueTask<KeyLookup> AuthenticateAsync(string secret, SecretHash hash, DateTimeOffset now, CancellationToken cancellationToken);
}

internal enum KeyLookupStatus
{
    Valid,
    /// <summary>Unknown, revoked, blocked, expired or rotated out: 401 with no hint which.</summary>
    Invalid,
    /// <summary>Not cached and the database cannot be asked: 503, never 401 (the key may be valid).</summary>
    Unavailable,
}

internal readonly record struct KeyLookup(KeyLookupStatus Status, KeyRecord? Key);
