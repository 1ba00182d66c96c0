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
                Guid.TryParse(id, out var keyId)
                    ? GetUsageAsync(request, queries, keyId, cancellationToken)
                    : Task.FromResult(ErrorResponses.Result(ApiError.InvalidRequest($"'{id}' is not a key id (a UUID).", "id"))))
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
            var report = await queries.GetAsync(query, cancellationToken);
            return TypedResults.Json(report, UsageJsonContext.Default.UsageReport);
        }
        catch (NpgsqlException) when (!cancellationToken.IsCancellationRequested)
        {
            return ErrorResponses.Result(ApiError.DatabaseUnavailable());
        }
    }
}
