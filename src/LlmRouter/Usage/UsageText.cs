using System.Text;

namespace LlmRouter.Usage;

/// <summary>
/// Makes client-supplied text storable: PostgreSQL refuses NUL characters and the UTF-8 encoder refuses lone
/// surrogates, and one such row must not poison its whole batch (which would then be retried forever).
/// </summary>
internal static class UsageText
{
    public static string? Clean(string? value)
    {
        if (value is null) return null;
        foreach (var c in value)
        {
            if (c == '\0' || char.IsSurrogate(c)) return Rebuild(value);
        }
        return value;
    }

    private static string Rebuild(string value)
    {
        var builder = new StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '\0') continue;
            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                builder.Append(c).Append(value[++i]);
            }
            else if (char.IsSurrogate(c))
            {
                builder.Append('\uFFFD');
            }
            else
            {
                builder.Append(c);
            }
        }
        return builder.ToString();
    }
}
