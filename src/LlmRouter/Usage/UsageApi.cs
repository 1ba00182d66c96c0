using LlmRouter.Errors;
using Npgsql;

namespace LlmRouter.Usage;

/// <summary>
/// Admin usage totals, read from the daily rollup only. The caller passes the admin-authenticated group
/// (<c>/admin</c>); nothing here checks credentials.
/// </summary>
internal static class UsageApi
{
    public static RouteGroupBuilder MapUsageApi(this RouteGroupBuilder group)
    {
        group.MapGet("/usage", (HttpRequest request, UsageQueries queries, CancellationToken cancellationToken) =>
                GetUsageAsync(request, queries, pathKeyId: null, cancellationToken))
            .WithName("GetUsage")
            .WithSummary("Usage totals over UTC days (from, to inclusive), optionally for one key or model, grouped by day, model or key.")
            .WithTags("Usage");
        group.MapGet("/keys/{id}/usage", (string id, HttpRequest request, UsageQueries queries, CancellationToken cancellationToken) =>
                // As /admin/keys/{id}: not a key id is a 404, and what was sent is never echoed (it may be a secret).
                Guid.TryParse(id, out var keyId)
                    ? GetUsageAsync(request, queries, keyId, cancellationToken)
                    : Task.FromResult(ErrorResponses.Result(ApiError.KeyNotFound("id"))))
            .WithName("GetKeyUsage")
            .WithSummary("One key's usage totals; same parameters as /admin/usage except key_id.")
            .WithTags("Usage");
        return group;
    }

    private static async Task<IResult> GetUsageAsync(HttpRequest request, UsageQueries queries, Guid? pathKeyId, CancellationToken cancellationToken)
    {
        if (!queries.IsConfigured) return ErrorResponses.Result(ApiError.DatabaseNotConfigured());
        if (!UsageQueryParser.TryParse(request.Query, pathKeyId, out var query, out var error)) return ErrorResponses.Result(error!);
        try
        {
            // Keys are never erased (revoking keeps the row), so an id that names none never had usage either.
            if (pathKeyId is { } keyId && !await queries.KeyExistsAsync(keyId, cancellationToken)) return ErrorResponses.Result(ApiError.KeyNotFound("id"));
            var report = await queries.GetAsync(query, cancellationToken);
            return TypedResults.Json(report, UsageJsonContext.Default.UsageReport);
        }
        catch (NpgsqlException) when (!cancellationToken.IsCancellationRequested)
        {
            return ErrorResponses.Result(ApiError.DatabaseUnavailable());
        }
    }
}
