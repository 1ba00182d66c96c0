using LlmRouter.Configuration;
using LlmRouter.Discovery;
using Microsoft.Extensions.Logging.Abstractions;

namespace LlmRouter.Tests.Discovery;

internal static class TestDeployments
{
    public static Deployment Deployment(string id, string model, string apiBase, string group = "chat", int? maxInputTokens = null) => new()
    {
        Id = id,
        ModelName = group,
        Provider = BackendProvider.Ollama,
        Model = model,
        ApiBase = new Uri(apiBase.EndsWith('/') ? apiBase : apiBase + "/"),
        MaxInputTokens = maxInputTokens,
    };

    public static RouterConfig Config(RouterSettings settings, params Deployment[] deployments) => new()
    {
        SourcePath = "test.yaml",
        Deployments = deployments,
        General = new GeneralSettings(),
        Router = settings,
    };

    public static BackendCatalog Catalog(RouterConfig config, IBackendDiscoveryClient client, TimeProvider? time = null) =>
        new(config, client, time ?? new FakeTimeProvider(), NullLogger<BackendCatalog>.Instance);
}
