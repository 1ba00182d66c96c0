using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace LlmRouter.Keys;

/// <summary>
/// Key secrets: <c>sk-</c> + base64url of 32 random bytes (43 characters). Only the SHA-256 hash and
/// <see cref="DisplayPrefixOf"/> are ever stored; the secret itself exists only in the mint or rotate response.
/// </summary>
internal static class KeySecret
{
    public const string Prefix = "sk-";
    public const int RandomBytes = 32;
    /// <summary><c>sk-</c> + 43 characters: base64url of 32 bytes without padding.</summary>
    public const int Length = 46;

    public static string Generate()
    {
        Span<byte> random = stackalloc byte[RandomBytes];
        RandomNumberGenerator.Fill(random);
        return Prefix + System.Buffers.Text.Base64Url.EncodeToString(random);
    }

    /// <summary><c>sk-</c> and the first 4 characters after it: enough to tell keys apart, far too little to guess one.</summary>
    public static string DisplayPrefixOf(string secret) => secret[..(Prefix.Length + 4)];

    /// <summary>
    /// Whether the text has the shape of one of our secrets. Anything else is rejected without a database lookup,
    /// so random garbage in Authorization headers cannot load Postgres.
    /// </summary>
    public static bool HasValidShape(ReadOnlySpan<char> secret)
    {
        if (secret.Length != Length || !secret.StartsWith(Prefix, StringComparison.Ordinal)) return false;
        foreach (var c in secret[Prefix.Length..])
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_')) return false;
        }
        return true;
    }
}

/// <summary>The SHA-256 of a secret as a value type, so the per-request cache lookup allocates nothing.</summary>
internal readonly record struct SecretHash(ulong A, ulong B, ulong C, ulong D)
{
    public static SecretHash Of(ReadOnlySpan<char> secret)
    {
        var max = Encoding.UTF8.GetMaxByteCount(secret.Length);
        Span<byte> utf8 = max <= 256 ? stackalloc byte[256] : new byte[max];
        var count = Encoding.UTF8.GetBytes(secret, utf8);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(utf8[..count], hash);
        return FromBytes(hash);
    }

    public static SecretHash FromHex(string hex) => FromBytes(Convert.FromHexString(hex));

    /// <summary>No early exit on the first differing word, unlike the record's equality.</summary>
    public bool EqualsInConstantTime(SecretHash other) => ((A ^ other.A) | (B ^ other.B) | (C ^ other.C) | (D ^ other.D)) == 0;

    /// <summary>Lower-case hex, the form stored in <c>api_key_secrets.hash</c>.</summary>
    public string ToHex()
    {
        Span<byte> bytes = stackalloc byte[32];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, A);
        BinaryPrimitives.WriteUInt64BigEndian(bytes[8..], B);
        BinaryPrimitives.WriteUInt64BigEndian(bytes[16..], C);
        BinaryPrimitives.WriteUInt64BigEndian(bytes[24..], D);
        return Convert.ToHexStringLower(bytes);
    }

    // Never print the hash by accident (it identifies the key in the database).
    public override string ToString() => "SecretHash";

    private static SecretHash FromBytes(ReadOnlySpan<byte> hash) => new(
        BinaryPrimitives.ReadUInt64BigEndian(hash),
        BinaryPrimitives.ReadUInt64BigEndian(hash[8..]),
        BinaryPrimitives.ReadUInt64BigEndian(hash[16..]),
        BinaryPrimitives.ReadUInt64BigEndian(hash[24..]));
}
