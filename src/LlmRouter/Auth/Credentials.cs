using LlmRouter.Keys;

namespace LlmRouter.Auth;

internal static class Credentials
{
    /// <summary><c>Authorization: Bearer …</c>; some clients send the key alone, or in an <c>x-api-key</c> header.</summary>
    public static string BearerToken(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        const string Scheme = "Bearer ";
        if (header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase)) return header[Scheme.Length..].Trim();
        var apiKey = request.Headers["x-api-key"].ToString();
        return apiKey.Length > 0 ? apiKey.Trim() : header.Trim();
    }
}

/// <summary>
/// The master key, kept only as its hash and compared in constant time (hashing equalises lengths). The caller hashes
/// what was presented once, for this check and the virtual-key lookup alike.
/// </summary>
internal sealed class MasterKey(string? key)
{
    private readonly SecretHash? _hash = key is null ? null : SecretHash.Of(key);

    public bool IsConfigured => _hash is not null;

    public bool Matches(SecretHash presented) => _hash is { } hash && hash.EqualsInConstantTime(presented);
}
