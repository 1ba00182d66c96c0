using System.Buffers.Binary;

namespace LlmRouter.Hosting;

/// <summary>
/// Identifiers for requests, leases and answers: unique, never secret. <see cref="Guid.NewGuid"/> and
/// <see cref="Guid.CreateVersion7()"/> read the kernel's secure random source, one system call per id, three per
/// request on the hot path; these draw from <see cref="Random.Shared"/> (seeded from that source once per thread).
/// </summary>
internal static class Ids
{
    /// <summary>A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits, so ids sort by time.</summary>
    public static Guid NewVersion7(DateTimeOffset now)
    {
        Span<byte> bytes = stackalloc byte[16];
        Random.Shared.NextBytes(bytes[6..]);
        Span<byte> millis = stackalloc byte[8];
        BinaryPrimitives.WriteInt64BigEndian(millis, now.ToUnixTimeMilliseconds());
        millis[2..].CopyTo(bytes);
        bytes[6] = (byte)(0x70 | (bytes[6] & 0x0F));
        bytes[8] = (byte)(0x80 | (bytes[8] & 0x3F));
        return new Guid(bytes, bigEndian: true);
    }

    /// <summary>A random UUIDv4 as 32 hex digits.</summary>
    public static string NewHex()
    {
        Span<byte> bytes = stackalloc byte[16];
        Random.Shared.NextBytes(bytes);
        bytes[6] = (byte)(0x40 | (bytes[6] & 0x0F));
        bytes[8] = (byte)(0x80 | (bytes[8] & 0x3F));
        return new Guid(bytes, bigEndian: true).ToString("N");
    }
}
