namespace LlmRouter.Errors;

/// <summary>Thrown where unwinding is simpler than returning; turned into the error response in one place.</summary>
public sealed class ApiErrorException(ApiError error) : Exception(error.Message)
{
    public ApiError Error { get; } = error;
}
