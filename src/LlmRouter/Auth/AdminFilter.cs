using LlmRouter.Configuration;
using LlmRouter.Errors;
using LlmRouter.Keys;

namespace LlmRouter.Auth;

/// <summary>Marks an endpoint that a key without is_admin may call about itself (LiteLLM's <c>GET /key/info</c>).</summary>
internal sealed class AllowKeySelfService;

/// <summary>Who passed <see cref="AdminFilter"/>: the master key (<see cref="Key"/> null) or a virtual key.</summary>
internal sealed record AdminCaller(KeyRecord? Key)
{
    private const string ItemKey = "llmr.admin-caller";
    public static readonly AdminCaller MasterKey = new((KeyRecord?)null);

    public bool IsAdmin => Key is null || Key.IsAdmin;

    public static AdminCaller Of(HttpContext context) => context.Items[ItemKey] as AdminCaller ?? MasterKey;

    public void Attach(HttpContext context) => context.Items[ItemKey] = this;
}

/// <summary>
/// Guards <c>/admin</c> and <c>/key</c> routes: the master key (compared in constant time) or a virtual key with
/// is_admin. A key that cannot be checked because Postgres is down gets 503, never 401.
/// With no master key configured (loopback-only mode, see StartupOptions) everything passes, as on the OpenAI routes.
/// </summary>
internal sealed class AdminFilter(GeneralSettings settings, IKeyAuthenticator keys, TimeProvider time) : IEndpointFilter
{
    private readonly MasterKey _master = new(settings.MasterKey);

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        if (!_master.IsConfigured) return await AdmittedAsync(context, next);
        var presented = Credentials.BearerToken(http.Request);
        if (presented.Length == 0) return ErrorResponses.Result(ApiError.InvalidApiKey());
        var hash = SecretHash.Of(presented);
        if (_master.Matches(hash))
        {
            AdminCaller.MasterKey.Attach(http);
            return await AdmittedAsync(context, next);
        }
        var lookup = await keys.AuthenticateAsync(presented, hash, time.GetUtcNow(), http.RequestAborted);
        switch (lookup.Status)
        {
            case KeyLookupStatus.Unavailable:
                return ErrorResponses.Result(ApiError.KeyCheckUnavailable());
            case KeyLookupStatus.Valid when lookup.Key!.IsAdmin || http.GetEndpoint()?.Metadata.GetMetadata<AllowKeySelfService>() is not null:
                new AdminCaller(lookup.Key).Attach(http);
                return await AdmittedAsync(context, next);
            case KeyLookupStatus.Valid:
                return ErrorResponses.Result(ApiError.AdminRequired());
            default:
                return ErrorResponses.Result(ApiError.InvalidApiKey());
        }
    }

    /// <summary>Past the credentials check (a caller without them learns nothing of the request): the query is checked.</summary>
    private static async ValueTask<object?> AdmittedAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next) =>
        QueryWithNul(context.HttpContext.Request) is { } name
            ? ErrorResponses.Result(ApiError.InvalidRequest($"The query parameter '{name}' must not contain NUL characters.", name))
            : await next(context);

    /// <summary>A query parameter holding NUL (<c>%00</c>), which no filter can match and Postgres refuses in text.</summary>
    private static string? QueryWithNul(HttpRequest request)
    {
        if (!request.QueryString.HasValue) return null;
        foreach (var (name, values) in request.Query)
        {
            foreach (var value in values)
            {
                if (value is not null && value.Contains('\0', StringComparison.Ordinal)) return name;
            }
        }
        return null;
    }
}
