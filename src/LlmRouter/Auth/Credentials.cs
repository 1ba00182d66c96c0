using System.Security.Cryptography;
using System.Text;

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

/// <summary>The master key, kept only as its hash and compared in constant time (hashing equalises lengths).</summary>
internal sealed class MasterKey(string? key)
{
    private readonly byte[]? _hash = key is null ? null : SHA256.HashData(Encoding.UTF8.GetBytes(key));

    public bool IsConfigured => _hash is not null;

    public bool Matches(string presented)
    {
        if (_hash is null) return false;
        Span<byte> hash = stackalloc byte[32];
        var max = Encoding.UTF8.GetMaxByteCount(presented.Length);
        Span<byte> utf8 = max <= 256 ? stackalloc byte[256] : new byte[max];
        SHA256.HashData(utf8[..Encoding.UTF8.GetBytes(presented, utf8)], hash);
        return CryptographicOperations.FixedTimeEquals(hash, _hash);
    }
}
