using LlmRouter.Errors;

namespace LlmRouter.Data;

internal enum DatabaseStatus
{
    /// <summary>No <c>database_url</c>: the router runs with the master key only.</summary>
    NotConfigured,
    /// <summary>Migrations have not finished yet (Postgres may be down); retried in the background.</summary>
    Migrating,
    Ready,
    /// <summary>The schema cannot be brought up to date without an operator (e.g. an applied migration was edited).</summary>
    Failed,
}

/// <summary>Whether the schema is ready for use. Everything that touches tables asks here first, so nothing runs against a half-migrated database.</summary>
internal sealed class DatabaseState
{
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile string? _failure;

    public DatabaseState(Database database) => Status = database.IsConfigured ? DatabaseStatus.Migrating : DatabaseStatus.NotConfigured;

    public DatabaseStatus Status { get; private set; }
    public bool IsReady => Status == DatabaseStatus.Ready;

    /// <summary>Completes once migrations are applied; never completes when there is no database.</summary>
    public Task WhenReady => _ready.Task;

    public void SetReady()
    {
        Status = DatabaseStatus.Ready;
        _ready.TrySetResult();
    }

    public void SetFailed(string message)
    {
        _failure = message;
        Status = DatabaseStatus.Failed;
    }

    /// <summary>The error to answer with while the database cannot be used, or null when it can.</summary>
    public ApiError? Unusable() => Status switch
    {
        DatabaseStatus.Ready => null,
        DatabaseStatus.NotConfigured => ApiError.DatabaseNotConfigured(),
        DatabaseStatus.Migrating => ApiError.DatabaseUnavailable("The database is not reachable yet (schema migrations are pending); retry shortly."),
        _ => ApiError.DatabaseUnavailable($"The database schema could not be brought up to date: {_failure} See the router log.") with { RetryAfterSeconds = null },
    };

    /// <summary>Throws the 503 that <see cref="Unusable"/> describes.</summary>
    public void EnsureUsable()
    {
        if (Unusable() is { } error) throw new ApiErrorException(error);
    }
}
