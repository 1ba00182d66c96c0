using LlmRouter.Auth;
using LlmRouter.Data;
using LlmRouter.Keys.Storage;
using LlmRouter.LiveState;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace LlmRouter.Keys;

internal static class KeysServiceCollectionExtensions
{
    /// <summary>Virtual keys: storage, the in-process cache behind <see cref="IKeyAuthenticator"/>, its sync with other replicas, and the admin filter.</summary>
    public static IServiceCollection AddKeys(this IServiceCollection services)
    {
        services.AddDatabase();
        services.TryAddSingleton<RedisConnection>();
        services.TryAddSingleton(new KeyCacheOptions());
        services.TryAddSingleton<KeyDb>();
        services.TryAddSingleton<KeySecretReader>();
        services.TryAddSingleton<KeyCache>();
        services.TryAddSingleton<IKeyAuthenticator>(sp => sp.GetRequiredService<KeyCache>());
        services.TryAddSingleton<KeyEvents>();
        services.TryAddSingleton<KeyStore>();
        services.TryAddSingleton<KeyRequestReader>();
        services.TryAddSingleton<AdminFilter>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, KeyCacheSync>());
        return services;
    }
}
