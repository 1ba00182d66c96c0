namespace LlmRouter.LiveState;

/// <summary>Window names shared by all replicas: the same instant gives the same bucket everywhere.</summary>
internal static class TimeBuckets
{
    public static string Minute(DateTimeOffset now) => (now.ToUnixTimeSeconds() / 60).ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static DateTimeOffset NextMinute(DateTimeOffset now) => DateTimeOffset.FromUnixTimeSeconds((now.ToUnixTimeSeconds() / 60 + 1) * 60);

    /// <summary>Quota periods count from the key's creation: a 30d budget renews every 30 days after minting.</summary>
    public static (string Bucket, DateTimeOffset Starts, DateTimeOffset Resets) Period(DateTimeOffset created, TimeSpan? duration, DateTimeOffset now)
    {
        if (duration is not { Ticks: > 0 } length) return ("lifetime", created, DateTimeOffset.MaxValue);
        var index = Math.Max(0, (now - created).Ticks / length.Ticks);
        return (index.ToString(System.Globalization.CultureInfo.InvariantCulture),
            created + TimeSpan.FromTicks(length.Ticks * index), created + TimeSpan.FromTicks(length.Ticks * (index + 1)));
    }

    public static DateTimeOffset MinuteStart(DateTimeOffset now) => DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds() / 60 * 60);
}
