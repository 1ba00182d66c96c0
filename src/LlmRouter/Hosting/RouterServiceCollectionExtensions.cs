using System.Net;
using LlmRouter.Auth;
using LlmRouter.Backends;
using LlmRouter.Backends.Ollama;
using LlmRouter.Completions;
using LlmRouter.Configuration;
using LlmRouter.Discovery;
using LlmRouter.Health;
using LlmRouter.Routing;
using LlmRouter.LiveState;
using LlmRouter.Streaming;
using LlmRouter.Usage;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace LlmRouter.Hosting;

internal static class RouterServiceCollectionExtensions
{
    public static IServiceCollection AddLlmRouter(this IServiceCollection services, RouterConfig config)
    {
        services.AddSingleton(config);
        services.AddSingleton(config.General);
        services.AddSingleton(config.Router);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(_ => CreateBackendInvoker(config.Router));
        services.AddSingleton<OllamaBackend>();
        services.AddSingleton<BackendRegistry>();
        services.AddSingleton<ModelCatalog>();
        services.AddSingleton<IDeploymentAvailability>(sp => sp.GetRequiredService<BackendCatalog>());
        services.AddSingleton<CandidateOrder>();
        services.AddSingleton<AdmissionQueue>();
        services.AddSingleton<KeyCounterRebuilds>();
        services.AddSingleton<RequestRouter>();
        services.AddSingleton<CallFactory>();
        services.AddSingleton<RequestAccounting>();
        services.AddSingleton<PendingSettles>();
        services.AddLiveState();
        services.AddSingleton<GenerationRelay>();
        services.AddSingleton<GenerationHandler>();
        services.AddSingleton<EmbeddingHandler>();
        services.AddDiscovery();
        services.AddHealth();
        services.AddSingleton<ApiKeyFilter>();
        return services;
    }

    /// <summary>
    /// One connection pool for every backend, set up as a reverse proxy's should be (YARP's defaults):
    /// no proxy, redirects, decompression or cookies; a bounded connect; no trace headers added per request.
    /// </summary>
    private static HttpMessageInvoker CreateBackendInvoker(RouterSettings settings) => new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        UseCookies = false,
        ConnectTimeout = settings.ConnectTimeout,
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
        ActivityHeadersPropagator = null,
        EnableMultipleHttp2Connections = true,
    }, disposeHandler: true);
}
