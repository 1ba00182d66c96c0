using LlmRouter.Errors;

namespace LlmRouter.Data;

/// <summary>503 for endpoints that need the tables, while there is no database or its schema is not ready.</summary>
internal sealed class DatabaseRequiredFilter(DatabaseState state) : IEndpointFilter
{
    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next) =>
        state.Unusable() is { } error ? ValueTask.FromResult<object?>(ErrorResponses.Result(error)) : next(context);
}
