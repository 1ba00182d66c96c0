using System.Globalization;
using System.Net;
using LlmRouter.LiveState;
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
    public async Task Metrics_AfterRequestsThroughRedis_OneCallPerAdmissionAndAtMostOnePerSettle()
    {
        await Eventually.UntilAsync(() => MetricAsync("llmrouter_redis_connected"), v => v == 1, "the router to connect to Redis");
        var before = await MetricAsync("llmrouter_redis_round_trips_total");

        for (var i = 0; i < 3; i++)
        {
            using var request = Requests.Post("v1/chat/completions", Requests.Chat("chat", "hello"));
            request.Headers.Authorization = new("Bearer", "sk-metrics-master");
            using var response = await Router.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // Settles run off the client's path: once every lease is gone from Redis, all three have landed.
        await Eventually.UntilAsync(LeasesInRedisAsync, n => n == 0, "every request's lease to be released in Redis");
        // One admission each (a client waiting for its answer cannot share one); each settle takes one call, or
        // shares the next one when it arrives while another settle is still on its way (group commit).
        var made = await MetricAsync("llmrouter_redis_round_trips_total") - before;
        Assert.InRange(made, 3 + 1, 3 + 3);
    }

    /// <summary>Leases held in Redis for any deployment, asked with redis-cli.</summary>
    private Task<long> LeasesInRedisAsync()
    {
        const string sum = "local n = 0 for _, k in ipairs(redis.call('KEYS', ARGV[1])) do n = n + redis.call('ZCARD', k) end return n";
        return _redis!.CliNumberAsync("EVAL", sum, "0", LiveKeys.DeploymentLeases("*"));
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
    }

    private async Task<long> MetricAsync(string name)
    {
        var text = await Router.Http.GetStringAsync("metrics");
        var line = text.Split('\n').Single(l => l.StartsWith(name + " ", StringComparison.Ordinal));
        return long.Parse(line[(name.Length + 1)..], CultureInfo.InvariantCulture);
    }
}
