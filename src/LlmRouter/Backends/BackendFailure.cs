using LlmRouter.Errors;

namespace LlmRouter.Backends;

/// <summary>Why a backend call failed before any byte reached the client; decides the status and whether to retry.</summary>
internal enum FailureKind
{
    /// <summary>Could not connect, connection lost, or a 5xx.</summary>
    Unavailable,
    /// <summary>The backend is saturated (Ollama 503 "server busy", 429).</summary>
    Busy,
    /// <summary>The backend answered that it lacks the model.</summary>
    ModelMissing,
    /// <summary>The backend rejected the request itself (a 400): the client's input, not worth a retry.</summary>
    BadRequest,
    /// <summary>The answer was not what the protocol promises.</summary>
    BadAnswer,
    Timeout,
}

internal sealed class BackendFailureException(FailureKind kind, string message, Exception? inner = null) : Exception(message, inner)
{
    public FailureKind Kind { get; } = kind;

    public ApiError ToApiError() => Kind switch
    {
        FailureKind.BadRequest => ApiError.InvalidRequest(Message),
        FailureKind.Busy => ApiError.Overloaded(Message, retryAfterSeconds: 1),
        FailureKind.Timeout => ApiError.Timeout(Message),
        _ => ApiError.BackendError(Message),
    };
}
