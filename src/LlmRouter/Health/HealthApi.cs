using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;

namespace LlmRouter.Health;

/// <summary>LiteLLM's health routes, without auth: liveliness says the process runs, readiness reports each backend.</summary>
internal static class HealthApi
{
    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/health").WithTags("Health");
        // HEAD too, as load balancers probe (the body is left out for it).
        string[] probe = [HttpMethods.Get, HttpMethods.Head];
        group.MapMethods("/liveliness", probe, () => TypedResults.Json(new Liveliness("alive"), HealthJsonContext.Default.Liveliness))
            .WithName("Liveliness").WithSummary("200 while the process runs.");
        group.MapMethods("/readiness", probe, GetReadinessAsync)
            .WithName("Readiness")
            .WithSummary("200 when at least one deployment is routable (model held, backend healthy), else 503; every backend's state either way.")
            .Produces<ReadinessReport>(StatusCodes.Status200OK)
            .Produces<ReadinessReport>(StatusCodes.Status503ServiceUnavailable);
        return app;
    }

    private static async Task<JsonHttpResult<ReadinessReport>> GetReadinessAsync(ReadinessReporter reporter, CancellationToken cancellationToken)
    {
        var report = await reporter.ReportAsync(cancellationToken);
        var status = report.Status == "ready" ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
        return TypedResults.Json(report, HealthJsonContext.Default.ReadinessReport, statusCode: status);
    }
}

internal sealed record Liveliness([property: JsonPropertyName("status")] string Status);
