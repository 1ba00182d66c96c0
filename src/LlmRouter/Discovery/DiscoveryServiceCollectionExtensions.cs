using Microsoft.Extensions.DependencyInjection.Extensions;

namespace LlmRouter.Discovery;

internal static class DiscoveryServiceCollectionExtensions
{
    /// <summary>
    /// Model discovery and active health checks. Needs the <see cref="Configuration.RouterConfig"/> and the shared backend
    /// <see cref="HttpMessageInvoker"/> that <c>AddLlmRouter</c> registers.
    /// </summary>
    public static IServiceCollection AddDiscovery(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IBackendDiscoveryClient, OllamaDiscoveryClient>();
        services.TryAddSingleton<BackendCatalog>();
        services.AddHostedService<DiscoveryService>();
        return services;
    }
}
