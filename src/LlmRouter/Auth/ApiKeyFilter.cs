using LlmRouter.Configuration;
using LlmRouter.Errors;
using LlmRouter.Keys;

namespace LlmRouter.Auth;

/// <summary>
/// Authenticates the OpenAI routes: <c>Authorization: Bearer &lt;master_key&gt;</c> (constant-time), or a virtual key
/// resolved from the in-process key cache. With no master key configured every request passes (start-up allows that
/// only on loopback), including Open WebUI's missing header and empty <c>Bearer </c>. A key that cannot be checked
/// because the database is down gets 503, never 401: it may be valid.
/// </summary>
internal sealed class ApiKeyFilter(GeneralSettings settings, TimeProvider time, IServiceProvider services) : IEndpointFilter
{
    private readonly MasterKey _master = new(settings.MasterKey);
    private readonly IKeyAuthenticator? _keys = services.GetService<IKeyAuthenticator>();

    /// <summary>Not async while the key is cached (nearly always): no frame of its own in every request's await chain.</summary>
    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        if (!_master.IsConfigured) return next(context);
        var http = context.HttpContext;
        var presented = Credentials.BearerToken(http.Request);
        if (presented.Length == 0) return Refuse(ApiError.InvalidApiKey());
        var hash = SecretHash.Of(presented);
        if (_master.Matches(hash)) return next(context);
        if (_keys is null) return Refuse(ApiError.InvalidApiKey());

        var lookup = _keys.AuthenticateAsync(presented, hash, time.GetUtcNow(), http.RequestAborted);
        return lookup.IsCompletedSuccessfully ? Continue(lookup.Result, context, next) : AwaitLookupAsync(lookup, context, next);
    }

    private static async ValueTask<object?> AwaitLookupAsync(ValueTask<KeyLookup> lookup, EndpointFilterInvocationContext context, EndpointFilterDelegate next) =>
        await Continue(await lookup, context, next);

    private static ValueTask<object?> Continue(KeyLookup lookup, EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        switch (lookup.Status)
        {
            case KeyLookupStatus.Valid:
                context.HttpContext.Features.Set(new RequestCaller(lookup.Key));
                return next(context);
            case KeyLookupStatus.Unavailable:
                return Refuse(ApiError.KeyCheckUnavailable());
            default:
                return Refuse(ApiError.InvalidApiKey());
        }
    }

    private static ValueTask<object?> Refuse(ApiError error) => ValueTask.FromResult<object?>(ErrorResponses.Result(error));
}
