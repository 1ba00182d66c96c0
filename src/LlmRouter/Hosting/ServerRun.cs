namespace LlmRouter.Hosting;

/// <summary>
/// Serves until shutdown. A port that another process holds ends the router with exit code 1 and an <c>error:</c> line
/// saying so (after the host's own log of the failed start), not with an unhandled exception and an abort.
/// </summary>
internal static class ServerRun
{
    public static async Task<int> RunAsync(WebApplication app)
    {
        try
        {
            await app.StartAsync();
        }
        catch (IOException e) when (e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
        {
            Console.Error.WriteLine($"error: {e.Message} Is another router already running there? Listen elsewhere with --urls (or ASPNETCORE_URLS).");
            // The background services that started stop as on any shutdown.
            await app.StopAsync();
            return 1;
        }
        await app.WaitForShutdownAsync();
        return 0;
    }
}
