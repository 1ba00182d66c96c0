using System.Text.Json.Serialization;

namespace LlmRouter.Health;

/// <summary>LiteLLM's health routes, without auth: liveliness says the process runs, readiness reports each backend.</summary>
internal static class HealthApi
{
    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/health").WithTags("Health");
        group.MapGet("/liveliness", () => TypedResults.Json(new Liveliness("alive"), HealthJsonContext.Default.Liveliness))
            .WithName("Liveliness").WithSummary("200 while the process runs.");
        group.MapGet("/readiness", async (BackendProbe probe, CancellationToken cancellationToken) =>
            {
                var backends = await probe.ProbeAllAsync(cancellationToken);
                var ready = backends.Any(b => b.Status == "healthy");
                var report = new Readiness(ready ? "ready" : "not_ready", backends);
                return TypedResults.Json(report, HealthJsonContext.Default.Readiness, statusCode: ready ? 200 : 503);
            })
            .WithName("Readiness").WithSummary("200 when at least one backend answers; lists every backend's state.");
        return app;
    }
}

internal sealed record Liveliness([property: JsonPropertyName("status")] string Status);

internal sealed record Readiness(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("backends")] IReadOnlyList<BackendState> Backends);

internal sealed record BackendState(
    [property: JsonPropertyName("api_base")] string ApiBase,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("deployments")] IReadOnlyList<string> Deployments,
    [property: JsonPropertyName("error")] string? Error);

[JsonSerializable(typeof(Liveliness))]
[JsonSerializable(typeof(Readiness))]
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
internal sealed partial class HealthJsonContext : JsonSerializerContext;
