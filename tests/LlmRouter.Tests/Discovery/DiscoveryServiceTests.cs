using LlmRouter.Configuration;
using LlmRouter.Discovery;
using Microsoft.Extensions.Logging.Abstractions;
using static LlmRouter.Tests.Discovery.TestDeployments;

namespace LlmRouter.Tests.Discovery;

/// <summary>The background loops run on the injected clock: once at start, then once per interval.</summary>
public sealed class DiscoveryServiceTests
{
    private const string A = "http://10.0.0.1:11434/";

    private readonly FakeDiscoveryClient _client = new();
    private readonly FakeTimeProvider _time = new();

    private (BackendCatalog Catalog, DiscoveryService Service) Start(RouterSettings settings)
    {
        var config = Config(settings, Deployment("llama-a", "llama3.1:8b", A));
        var catalog = TestDeployments.Catalog(config, _client, _time);
        return (catalog, new DiscoveryService(catalog, _time, NullLogger<DiscoveryService>.Instance));
    }

    [Fact]
    public async Task ExecuteAsync_PollsAtStartAndThenEveryModelPollInterval()
    {
        var settings = new RouterSettings { ModelPollInterval = TimeSpan.FromSeconds(10), HealthCheckInterval = TimeSpan.FromSeconds(5) };
        var (_, service) = Start(settings);
        var backend = _client[A];

        await service.StartAsync(CancellationToken.None);
        try
        {
            await Eventually.TrueAsync(() => Volatile.Read(ref backend.TagsCalls) == 1 && Volatile.Read(ref backend.PingCalls) == 1, "first round at start-up");

            _time.Advance(TimeSpan.FromSeconds(5));
            await Eventually.TrueAsync(() => Volatile.Read(ref backend.PingCalls) == 2, "health check after 5 s");
            Assert.Equal(1, Volatile.Read(ref backend.TagsCalls));

            _time.Advance(TimeSpan.FromSeconds(5));
            await Eventually.TrueAsync(() => Volatile.Read(ref backend.TagsCalls) == 2, "model poll after 10 s");
            await Eventually.TrueAsync(() => Volatile.Read(ref backend.PingCalls) == 3, "health check after 10 s");
        }
        finally
        {
            await service.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task ExecuteAsync_BackendDown_UnhealthyAfterFallIntervals()
    {
        var settings = new RouterSettings { HealthCheckInterval = TimeSpan.FromSeconds(5), HealthCheckFall = 3 };
        var (catalog, service) = Start(settings);
        var backend = _client[A];
        backend.PingFail = true;

        await service.StartAsync(CancellationToken.None);
        try
        {
            await Eventually.TrueAsync(() => Volatile.Read(ref backend.PingCalls) == 1, "first check");
            _time.Advance(TimeSpan.FromSeconds(5));
            await Eventually.TrueAsync(() => catalog.Backends[0].Health.ConsecutiveFailures == 2, "second check");
            Assert.True(catalog.IsHealthy(A));

            _time.Advance(TimeSpan.FromSeconds(5));
            await Eventually.TrueAsync(() => !catalog.IsHealthy(A), "unhealthy after the third failed check");
        }
        finally
        {
            await service.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task StopAsync_EndsTheLoops()
    {
        var (_, service) = Start(new RouterSettings());
        await service.StartAsync(CancellationToken.None);
        await Eventually.TrueAsync(() => Volatile.Read(ref _client[A].TagsCalls) == 1, "first poll");

        await service.StopAsync(CancellationToken.None);

        Assert.True(service.ExecuteTask!.IsCompletedSuccessfully);
    }
}
