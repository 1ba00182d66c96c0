namespace LlmRouter.Routing;

/// <summary>How long one wait of a call may take, when the call's <c>timeout</c> ends at a deadline.</summary>
internal static class CallDeadline
{
    private static readonly TimeSpan Shortest = TimeSpan.FromMilliseconds(1);

    /// <summary>
    /// <paramref name="limit"/>, or what is left until <paramref name="deadline"/> when that is less; at least a millisecond,
    /// since a timeout of zero or less would mean none at all.
    /// </summary>
    public static TimeSpan Within(TimeSpan limit, DateTimeOffset deadline, DateTimeOffset now)
    {
        var left = deadline - now;
        return left >= limit ? limit : left > Shortest ? left : Shortest;
    }
}
