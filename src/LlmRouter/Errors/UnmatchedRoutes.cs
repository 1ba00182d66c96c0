using Microsoft.AspNetCore.Routing.Template;

namespace LlmRouter.Errors;

/// <summary>
/// What a request no endpoint took gets: 405 with <c>Allow</c> when the path is served with other methods (a GET on
/// <c>/v1/chat/completions</c>), else 404; both as OpenAI-style errors. The catch-all that answers them takes every
/// method, so ASP.NET Core's own 405 never comes: the routes are matched here instead, off the hot path.
/// </summary>
internal sealed class UnmatchedRoutes(EndpointDataSource endpoints)
{
    private readonly Lazy<(TemplateMatcher Matcher, IReadOnlyList<string> Methods)[]> _routes = new(() => endpoints.Endpoints
        .OfType<RouteEndpoint>()
        .Where(e => e.Metadata.GetMetadata<IHttpMethodMetadata>() is { HttpMethods.Count: > 0 }
            && e.RoutePattern.RawText is { } pattern && !pattern.Contains("{*", StringComparison.Ordinal))
        .Select(e => (new TemplateMatcher(new RouteTemplate(e.RoutePattern), new RouteValueDictionary()), e.Metadata.GetMetadata<IHttpMethodMetadata>()!.HttpMethods))
        .ToArray());

    public IResult Answer(HttpContext context)
    {
        var request = context.Request;
        var allowed = _routes.Value.Where(r => r.Matcher.TryMatch(request.Path, new RouteValueDictionary())).SelectMany(r => r.Methods)
            .Distinct(StringComparer.OrdinalIgnoreCase).Order(StringComparer.Ordinal).ToArray();
        // The method is served there: something else kept the request from its endpoint, and "use POST" would be untrue.
        if (allowed.Length == 0 || allowed.Contains(request.Method, StringComparer.OrdinalIgnoreCase))
            return ErrorResponses.Result(ApiError.RouteNotFound(request.Method, request.Path));
        return ErrorResponses.Result(ApiError.MethodNotAllowed(request.Method, request.Path, allowed) with
        {
            Headers = new Dictionary<string, string> { ["Allow"] = string.Join(", ", allowed) },
        });
    }
}
