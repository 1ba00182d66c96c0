using System.Text.Json.Serialization;

namespace LlmRouter.Health;

/// <summary><c>GET /health/readiness</c>: 200 with <c>ready</c> when some deployment is routable and no component objects.</summary>
internal sealed record ReadinessReport(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("routable_deployments")] int RoutableDeployments,
    [property: JsonPropertyName("backends")] IReadOnlyList<BackendReadiness> Backends,
    [property: JsonPropertyName("components")] IReadOnlyDictionary<string, ReadinessComponent>? Components);

/// <param name="Status"><c>healthy</c> or <c>unhealthy</c> by the <c>GET /</c> checks.</param>
/// <param name="ModelsSource"><c>config</c> until <c>/api/tags</c> first answers (every configured model counts as held), then <c>poll</c>.</param>
internal sealed record BackendReadiness(
    [property: JsonPropertyName("api_base")] string ApiBase,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("consecutive_failures")] int ConsecutiveFailures,
    [property: JsonPropertyName("consecutive_successes")] int ConsecutiveSuccesses,
    [property: JsonPropertyName("last_check_at")] DateTimeOffset? LastCheckAt,
    [property: JsonPropertyName("last_error")] string? LastError,
    [property: JsonPropertyName("last_error_at")] DateTimeOffset? LastErrorAt,
    [property: JsonPropertyName("models_source")] string ModelsSource,
    [property: JsonPropertyName("held_models")] IReadOnlyList<string>? HeldModels,
    [property: JsonPropertyName("loaded_models")] IReadOnlyList<string> LoadedModels,
    [property: JsonPropertyName("last_poll_at")] DateTimeOffset? LastPollAt,
    [property: JsonPropertyName("last_poll_success_at")] DateTimeOffset? LastPollSuccessAt,
    [property: JsonPropertyName("last_poll_error")] string? LastPollError,
    [property: JsonPropertyName("deployments")] IReadOnlyList<DeploymentReadiness> Deployments);

internal sealed record DeploymentReadiness(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("model_name")] string ModelName,
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("routable")] bool Routable,
    [property: JsonPropertyName("held")] bool Held,
    [property: JsonPropertyName("loaded")] bool Loaded,
    [property: JsonPropertyName("context_length")] int? ContextLength,
    [property: JsonPropertyName("deep_check")] DeepCheckReadiness? DeepCheck);

/// <summary>Present when <c>health_check_deep</c> is on.</summary>
internal sealed record DeepCheckReadiness(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("consecutive_failures")] int ConsecutiveFailures,
    [property: JsonPropertyName("last_check_at")] DateTimeOffset? LastCheckAt,
    [property: JsonPropertyName("last_error")] string? LastError);

/// <summary>One <see cref="IReadinessContributor"/>'s section.</summary>
/// <param name="Ready">False makes the whole router not ready (503); a degraded but serving dependency says true.</param>
/// <param name="Status">A word for people: <c>connected</c>, <c>degraded</c>, <c>disabled</c>, …</param>
internal sealed record ReadinessComponent(
    [property: JsonPropertyName("ready")] bool Ready,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("error")] string? Error = null,
    [property: JsonPropertyName("details")] IReadOnlyDictionary<string, string>? Details = null);
