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

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        if (!_master.IsConfigured) return await next(context);
        var http = context.HttpContext;
        var presented = Credentials.BearerToken(http.Request);
        if (presented.Length == 0) return ErrorResponses.Result(ApiError.InvalidApiKey());
        if (_master.Matches(presented)) return await next(context);
        if (_keys is null) return ErrorResponses.Result(ApiError.InvalidApiKey());

        var lookup = await _keys.AuthenticateAsync(presented, time.GetUtcNow(), http.RequestAborted);
        switch (lookup.Status)
        {
            case KeyLookupStatus.Valid:
                http.Features.Set(new RequestCaller(lookup.Key));
                return await next(context);
            case KeyLookupStatus.Unavailable:
                return ErrorResponses.Result(ApiError.KeyCheckUnavailable());
            default:
                return ErrorResponses.Result(ApiError.InvalidApiKey());
        }
    }
}
