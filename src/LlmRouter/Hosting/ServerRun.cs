namespace LlmRouter.Hosting;

/// <summary>
/// Serves until shutdown. A start that fails ends the router with exit code 1 and one <c>error:</c> line saying why,
/// not with an unhandled exception and an abort. Where the server could not listen (a port that another process holds,
/// an address the machine does not have) that line is all: the host's own log of the failed start, with its stack
/// trace, is kept quiet. Any other failure is logged with its exception too.
/// </summary>
internal static partial class ServerRun
{
    /// <summary>The host's category: it logs a failed start itself, at <see cref="LogLevel.Error"/>, before rethrowing.</summary>
    private const string HostCategory = "Microsoft.Extensions.Hosting.Internal.Host";

    private static volatile bool _starting;

    /// <summary>
    /// Keeps the host's own errors out of the log while the server starts (<see cref="RunAsync"/> reports a failed
    /// start); the rest of what the host logs from Information up, as for every other category.
    /// </summary>
    public static void QuietHostStartErrors(ILoggingBuilder logging) =>
        logging.AddFilter(HostCategory, level => level >= LogLevel.Information && !(_starting && level >= LogLevel.Error));

    /// <param name="urls">Where the server listens, for the error line when it cannot.</param>
    public static async Task<int> RunAsync(WebApplication app, string urls)
    {
        _starting = true;
        try
        {
            await app.StartAsync();
        }
        catch (IOException e) when (e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
        {
            return await FailedAsync(app, $"{e.Message} Is another router already running there? Listen elsewhere with --urls (or ASPNETCORE_URLS).");
        }
        catch (Exception e) when (BindError(e) is { } error)
        {
            return await FailedAsync(app, $"cannot listen on {urls}: {error.Message}.");
        }
        catch (Exception e)
        {
            StartFailed(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("LlmRouter"), e);
            return await FailedAsync(app, $"the router failed to start: {e.Message}");
        }
        finally
        {
            _starting = false;
        }
        await app.WaitForShutdownAsync();
        return 0;
    }

    /// <summary>The socket error that kept the server from listening (an address this machine does not have, say), if that was it.</summary>
    private static System.Net.Sockets.SocketException? BindError(Exception e)
    {
        for (Exception? inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is System.Net.Sockets.SocketException socket) return socket;
        }
        return null;
    }

    private static async Task<int> FailedAsync(WebApplication app, string message)
    {
        Console.Error.WriteLine($"error: {message}");
        // The background services that started stop as on any shutdown.
        await app.StopAsync();
        return 1;
    }

    [LoggerMessage(3, LogLevel.Critical, "The router failed to start")]
    private static partial void StartFailed(ILogger logger, Exception exception);
}
