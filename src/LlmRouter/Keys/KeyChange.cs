using System.Globalization;

namespace LlmRouter.Keys;

internal enum KeyChangeKind
{
    Minted,
    Updated,
    Blocked,
    Revoked,
    Rotated,
}

/// <summary>
/// What happened to a key, as published on <c>llmr:keys</c>. Restrictive changes (blocked, revoked, rotated) carry
/// enough to take effect in every cache at once, before the follow-up read from Postgres.
/// </summary>
/// <param name="RotatedAt">When the new secret was created; older secrets of the key expire at <paramref name="OldSecretsExpireAt"/>.</param>
internal sealed record KeyChange(KeyChangeKind Kind, Guid KeyId, DateTimeOffset? RotatedAt = null, DateTimeOffset? OldSecretsExpireAt = null)
{
    /// <summary><c>kind|key id|rotated at (unix ms)|old secrets expire at (unix ms)|origin</c>: small, and no secret or hash in it.</summary>
    public string Serialize(Guid origin) => string.Join('|',
        Kind.ToString(), KeyId.ToString("N"), Millis(RotatedAt), Millis(OldSecretsExpireAt), origin.ToString("N"));

    public static bool TryParse(string? text, out KeyChange change, out Guid origin)
    {
        change = null!;
        origin = Guid.Empty;
        var parts = text?.Split('|');
        if (parts is not { Length: 5 } || !Enum.TryParse<KeyChangeKind>(parts[0], out var kind) || !Guid.TryParse(parts[1], out var keyId) ||
            !TryMillis(parts[2], out var rotatedAt) || !TryMillis(parts[3], out var expireAt) || !Guid.TryParse(parts[4], out origin))
            return false;
        change = new KeyChange(kind, keyId, rotatedAt, expireAt);
        return true;
    }

    private static string Millis(DateTimeOffset? time) => time?.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture) ?? "";

    private static bool TryMillis(string text, out DateTimeOffset? time)
    {
        time = null;
        if (text.Length == 0) return true;
        if (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var ms)) return false;
        time = DateTimeOffset.FromUnixTimeMilliseconds(ms);
        return true;
    }
}
