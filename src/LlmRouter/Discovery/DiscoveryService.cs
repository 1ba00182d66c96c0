using LlmRouter.Configuration;

namespace LlmRouter.Discovery;

/// <summary>
/// Keeps <see cref="BackendCatalog"/> fresh: model polls every <c>model_poll_interval</c>, <c>GET /</c> checks every
/// <c>health_check_interval</c>, and deep checks on the same interval in a loop of their own, so a slow one-token answer
/// never delays the cheap checks. Each loop runs once at start-up, then on the injected clock's ticks.
/// </summary>
internal sealed class DiscoveryService(BackendCatalog catalog, TimeProvider time, ILogger<DiscoveryService> logger) : BackgroundService
{
    private readonly RouterSettings _settings = catalog.Settings;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.WhenAll(
        RunEveryAsync("models", _settings.ModelPollInterval, catalog.PollNowAsync, stoppingToken),
        RunEveryAsync("health", _settings.HealthCheckInterval, catalog.CheckBackendsAsync, stoppingToken),
        _settings.HealthCheckDeep ? RunEveryAsync("deep-health", _settings.HealthCheckInterval, catalog.CheckDeploymentsAsync, stoppingToken) : Task.CompletedTask);

    private async Task RunEveryAsync(string name, TimeSpan interval, Func<CancellationToken, Task> round, CancellationToken stoppingToken)
    {
        // A round longer than the interval makes the timer skip the ticks it missed rather than run rounds back to back.
        using var timer = new PeriodicTimer(interval, time);
        try
        {
            do
            {
                try
                {
                    await round(stoppingToken);
                }
                catch (Exception e) when (!stoppingToken.IsCancellationRequested)
                {
                    DiscoveryLog.LoopFailed(logger, name, e);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
