namespace LlmRouter.Discovery;

/// <summary>
/// HAProxy's <c>fall</c>/<c>rise</c> rule for one checked target, as an immutable value: a healthy target turns unhealthy
/// after <c>fall</c> consecutive failed checks and back after <c>rise</c> consecutive successes; one result the other way
/// resets the streak. Targets start healthy, so a router that has just started does not refuse traffic.
/// </summary>
internal sealed record HealthCheckState
{
    public static readonly HealthCheckState Initial = new();

    public bool Healthy { get; init; } = true;
    public int ConsecutiveFailures { get; init; }
    public int ConsecutiveSuccesses { get; init; }
    public DateTimeOffset? LastCheckAt { get; init; }
    /// <summary>The most recent failure, kept after recovery so readiness can show what happened.</summary>
    public string? LastError { get; init; }
    public DateTimeOffset? LastErrorAt { get; init; }
    /// <summary>When <see cref="Healthy"/> last flipped; null while it never has.</summary>
    public DateTimeOffset? ChangedAt { get; init; }

    public HealthCheckState Succeeded(DateTimeOffset at, int rise)
    {
        var successes = ConsecutiveSuccesses + 1;
        var healthy = Healthy || successes >= rise;
        return this with
        {
            Healthy = healthy,
            ConsecutiveFailures = 0,
            ConsecutiveSuccesses = successes,
            LastCheckAt = at,
            ChangedAt = healthy != Healthy ? at : ChangedAt,
        };
    }

    public HealthCheckState Failed(string error, DateTimeOffset at, int fall)
    {
        var failures = ConsecutiveFailures + 1;
        var healthy = Healthy && failures < fall;
        return this with
        {
            Healthy = healthy,
            ConsecutiveFailures = failures,
            ConsecutiveSuccesses = 0,
            LastCheckAt = at,
            LastError = error,
            LastErrorAt = at,
            ChangedAt = healthy != Healthy ? at : ChangedAt,
        };
    }
}
