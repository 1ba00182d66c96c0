namespace LlmRouter.LiveState;

/// <summary>Window names shared by all replicas: the same instant gives the same bucket everywhere.</summary>
internal static class TimeBuckets
{
    private static MinuteName? _lastMinute;

    /// <summary>The minute's bucket name; the same string instance all minute long (it is asked for several times per request).</summary>
    public static string Minute(DateTimeOffset now)
    {
        var minute = now.ToUnixTimeSeconds() / 60;
        var last = Volatile.Read(ref _lastMinute);
        if (last is not null && last.Number == minute) return last.Text;
        var name = new MinuteName(minute, minute.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Volatile.Write(ref _lastMinute, name);
        return name.Text;
    }

    private sealed record MinuteName(long Number, string Text);

    public static bool SameMinute(DateTimeOffset a, DateTimeOffset b) => a.ToUnixTimeSeconds() / 60 == b.ToUnixTimeSeconds() / 60;

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
