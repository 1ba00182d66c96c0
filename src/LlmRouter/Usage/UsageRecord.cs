using System.Text.Json.Serialization;

namespace LlmRouter.Usage;

/// <summary>One request's usage; <see cref="Id"/> is the router-generated idempotency key.</summary>
public sealed record UsageRecord
{
    public required Guid Id { get; init; }
    public string? ClientRequestId { get; init; }
    public Guid? KeyId { get; init; }
    /// <summary>The group that actually served (after fallbacks); the requested one when nothing served.</summary>
    public required string Model { get; init; }
    public required string RequestedModel { get; init; }
    public string? DeploymentId { get; init; }
    public string? Backend { get; init; }
    public int PromptTokens { get; init; }
    public int CompletionTokens { get; init; }
    public decimal Cost { get; init; }
    public required int Status { get; init; }
    public string? ErrorType { get; init; }
    public double? TimeToFirstTokenMs { get; init; }
    public required double DurationMs { get; init; }
    public bool Streamed { get; init; }
    public string? EndUser { get; init; }
    public required DateTimeOffset StartedAt { get; init; }

    /// <summary>Where the row sits in the crash journal (<see cref="UsageJournal.Append"/>), 0 for none; not part of the row.</summary>
    [JsonIgnore]
    internal long JournalMark
    {
        get => _journal.Mark;
        set => _journal = new JournalMarkSlot(value);
    }

    private JournalMarkSlot _journal;
}

/// <summary>
/// Holds <see cref="UsageRecord.JournalMark"/> so the record's generated equality ignores it: every slot equals every
/// other, and two rows are equal by their content alone.
/// </summary>
internal readonly struct JournalMarkSlot(long mark) : IEquatable<JournalMarkSlot>
{
    public long Mark { get; } = mark;

    public bool Equals(JournalMarkSlot other) => true;

    public override bool Equals(object? obj) => obj is JournalMarkSlot;

    public override int GetHashCode() => 0;
}

/// <summary>Takes usage off the request path: never blocks, never drops (spills to disk when it must).</summary>
internal interface IUsageSink
{
    void Record(UsageRecord record);
}
