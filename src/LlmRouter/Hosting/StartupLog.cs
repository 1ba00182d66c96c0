using LlmRouter.Configuration;

namespace LlmRouter.Hosting;

internal static partial class StartupLog
{
    public static void Write(WebApplication app, RouterConfig config, StartupOptions startup)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("LlmRouter");
        Loaded(logger, config.SourcePath, config.Deployments.Count, string.Join(", ", config.ModelGroups), startup.Urls);
        if (config.General.MasterKey is null) NoAuth(logger);
    }

    [LoggerMessage(1, LogLevel.Information, "Loaded {File}: {Count} deployments serving {Models}; listening on {Urls}")]
    private static partial void Loaded(ILogger logger, string file, int count, string models, string urls);

    [LoggerMessage(2, LogLevel.Warning, "No master_key configured: serving WITHOUT authentication (loopback only unless allow_unauthenticated is set)")]
    private static partial void NoAuth(ILogger logger);
}
