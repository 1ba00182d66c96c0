using Microsoft.Extensions.DependencyInjection.Extensions;

namespace LlmRouter.Data;

internal static class DataServiceCollectionExtensions
{
    /// <summary>The Postgres data source, schema state and the background migrator. Safe to call from every feature that needs the database.</summary>
    public static IServiceCollection AddDatabase(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<Database>();
        services.TryAddSingleton<DatabaseState>();
        services.TryAddSingleton<MigrationRunner>();
        services.TryAddSingleton<MigrationService>();
        services.TryAddSingleton<DatabaseRequiredFilter>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, MigrationService>(sp => sp.GetRequiredService<MigrationService>()));
        return services;
    }
}
