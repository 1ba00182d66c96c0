using Microsoft.Extensions.DependencyInjection.Extensions;

namespace LlmRouter.Health;

internal static class HealthServiceCollectionExtensions
{
    /// <summary>The readiness report; other features add sections with an <see cref="IReadinessContributor"/>.</summary>
    public static IServiceCollection AddHealth(this IServiceCollection services)
    {
        services.TryAddSingleton<ReadinessReporter>();
        return services;
    }
}
