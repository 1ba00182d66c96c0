using LlmRouter.Configuration;

namespace LlmRouter.Hosting;

/// <summary>Where the config comes from and where the router listens, settled before the host is built.</summary>
internal sealed record StartupOptions(string ConfigPath, string Urls)
{
    public const string DefaultUrls = "http://127.0.0.1:4000";

    /// <summary><c>--config</c>, else <c>LLMROUTER_CONFIG</c>, else <c>./config.yaml</c>; <c>--urls</c> (or ASPNETCORE_URLS), else loopback:4000.</summary>
    public static StartupOptions From(IConfiguration configuration)
    {
        var configPath = configuration["config"];
        if (string.IsNullOrEmpty(configPath)) configPath = Environment.GetEnvironmentVariable("LLMROUTER_CONFIG");
        if (string.IsNullOrEmpty(configPath)) configPath = "config.yaml";
        var urls = configuration["urls"];
        return new StartupOptions(configPath, string.IsNullOrEmpty(urls) ? DefaultUrls : urls);
    }

    /// <summary>Refuses to serve without a key anywhere but loopback, unless the config says so explicitly.</summary>
    public void CheckExposure(GeneralSettings general)
    {
        if (general.MasterKey is not null || general.AllowUnauthenticated) return;
        foreach (var url in Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!IsLoopback(url))
                throw new ConfigException(
                    $"{ConfigPath}: general_settings.master_key: not set, and the router would listen on {url}, which is not loopback; set a master key or general_settings.allow_unauthenticated: true");
        }
    }

    private static bool IsLoopback(string url)
    {
        // Kestrel's wildcards ('*', '+', '0.0.0.0', '[::]') do not parse as hosts, so they fall through to "not loopback".
        var host = url.Replace("://*", "://wildcard.invalid").Replace("://+", "://wildcard.invalid");
        if (!Uri.TryCreate(host, UriKind.Absolute, out var uri)) return false;
        if (uri.IsLoopback) return true;
        return System.Net.IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address) && System.Net.IPAddress.IsLoopback(address);
    }
}
