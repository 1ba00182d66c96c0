using System.Net;
using LlmRouter.Tests.Infrastructure;
using LlmRouter.Tests.Services;
using Xunit.Abstractions;

namespace LlmRouter.Tests.Integration;

/// <summary>GET /metrics: Prometheus text without auth, with the Redis round trips the hot path made.</summary>
public sealed class MetricsTests(ITestOutputHelper output) : IsolatedRouterTest(output), IAsyncLifetime
{
    private RedisServer? _redis;

    protected override async Task<RouterEnvironment> StartEnvironmentAsync()
    {
        _redis = await RedisServer.StartAsync();
        return await RouterEnvironment.StartSingleBackendAsync(customize: c => c with
        {
            MasterKey = "sk-metrics-master",
            General = new Dictionary<string, string> { ["redis_url"] = $"redis://{_redis.Url}" },
        });
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        await DisposeAsync();
        if (_redis is not null) await _redis.DisposeAsync();
    }

    [Fact]
    public async Task Metrics_BackToBackRequestsThroughRedis_TakeASpare_OneCallPerAdmissionAndAtMostOnePerSettle()
    {
        await Eventually.UntilAsync(() => Router.MetricAsync("llmrouter_redis_connected"), v => v == 1, "the router to connect to Redis");
        var before = await Router.MetricAsync("llmrouter_redis_round_trips_total");

        // A spare is used only within the minute it was counted in: start with most of a minute to go.
        await Eventually.UntilAsync(() => Task.FromResult(DateTime.UtcNow.Second), s => s < 50, "a minute with time left", TimeSpan.FromSeconds(15));
        // The second request comes right after the first, so the third one's admission is taken ahead while it is served.
        await ChatAsync();
        await ChatAsync();
        await Eventually.UntilAsync(() => Router.MetricAsync("llmrouter_spare_admissions_waiting"), v => v == 1, "an admission to be taken ahead");
        await ChatAsync();
        Assert.Equal(1, await Router.MetricAsync("llmrouter_spare_admissions_used_total"));

        // The third took the last spare: one more was taken at once and, when the requests' pace says a second would
        // be used in time, another once its answer was out (on a slow machine the first answers take long enough that
        // it is not). Nobody comes for them, and they are given back after two seconds: once every lease is gone from
        // Redis, every settle and release has landed.
        await Eventually.UntilAsync(_redis!.DeploymentLeasesAsync, n => n == 0, "every lease to be released in Redis");
        var released = await Router.MetricAsync("llmrouter_spare_admissions_released_total");
        Assert.InRange(released, 1, 2);
        // One admission call for each of the first two requests, one for the spare taken after the second and one for
        // each spare taken after the third; each settle takes one call at most (or rides with an admission), and the
        // releases one each at most (or share one).
        var made = await Router.MetricAsync("llmrouter_redis_round_trips_total") - before;
        Assert.InRange(made, 3 + released, 3 + released + 3 + released);
    }

    private async Task ChatAsync()
    {
        using var request = Requests.Post("v1/chat/completions", Requests.Chat("chat", "hello"));
        request.Headers.Authorization = new("Bearer", "sk-metrics-master");
        using var response = await Router.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Metrics_WithoutKey_ServesPrometheusText()
    {
        using var response = await Router.Http.GetAsync("metrics");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.ToString());
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains("# TYPE llmrouter_redis_round_trips_total counter\n", text, StringComparison.Ordinal);
        Assert.Contains("\nprocess_resident_memory_bytes ", text, StringComparison.Ordinal);
        Assert.Contains("\n# TYPE dotnet_gc_committed_bytes gauge\n", text, StringComparison.Ordinal);
        Assert.True(await Router.MetricAsync("dotnet_threadpool_threads") > 0);
    }
}
