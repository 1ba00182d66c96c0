using System.Net;
using System.Text.Json;
using LlmRouter.Configuration;
using LlmRouter.Usage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using static LlmRouter.Tests.Usage.UsageTestData;

namespace LlmRouter.Tests.Usage;

/// <summary>The admin usage endpoints hosted in-process over the real rollup, and the query behind them.</summary>
public sealed class UsageApiTests(UsagePostgres postgres) : IClassFixture<UsagePostgres>
{
    private static readonly DateOnly D1 = new(2026, 11, 20);
    private static readonly DateOnly D2 = new(2026, 11, 21);

    /// <summary>A known rollup: written through the real batch statement, then checked against hand-computed totals.</summary>
    private async Task<(string Db, List<UsageRecord> Rows)> SeedAsync()
    {
        var db = await postgres.CreateDatabaseAsync();
        var rows = Rows(600);
        await using var source = NpgsqlDataSource.Create(db);
        await new UsageStore(source, TimeProvider.System).InsertAsync(rows, default);
        foreach (var key in rows.Select(r => r.KeyId).OfType<Guid>().Distinct())
        {
            await using var insert = source.CreateCommand("insert into api_keys (id, display_prefix) values ($1, 'sk-test')");
            insert.Parameters.Add(new NpgsqlParameter { Value = key });
            await insert.ExecuteNonQueryAsync();
        }
        return (db, rows);
    }

    private static async Task<WebApplication> HostAsync(string? databaseUrl)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(new GeneralSettings { DatabaseUrl = databaseUrl, UsageSpillPath = SpillPath() });
        builder.Services.AddUsage();
        var app = builder.Build();
        app.MapGroup("/admin").MapUsageApi();
        await app.StartAsync();
        return app;
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body)> GetAsync(WebApplication app, string url)
    {
        using var response = await app.GetTestClient().GetAsync(url);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
        return (response.StatusCode, body);
    }

    [Fact]
    public async Task GetUsage_GroupByDay_ReturnsEachDaysTotals()
    {
        var (db, rows) = await SeedAsync();
        await using var app = await HostAsync(db);

        var (status, body) = await GetAsync(app, "/admin/usage?group_by=day");

        Assert.Equal(HttpStatusCode.OK, status);
        var data = body.GetProperty("data").EnumerateArray().ToArray();
        Assert.Equal(["2026-11-20", "2026-11-21"], data.Select(d => d.GetProperty("day").GetString()));
        foreach (var item in data)
        {
            var day = DateOnly.Parse(item.GetProperty("day").GetString()!);
            var expected = rows.Where(r => DateOnly.FromDateTime(r.StartedAt.UtcDateTime) == day).ToArray();
            Assert.Equal(expected.Length, item.GetProperty("requests").GetInt64());
            Assert.Equal(expected.Sum(r => (long)r.PromptTokens), item.GetProperty("prompt_tokens").GetInt64());
            Assert.Equal(expected.Sum(r => (long)r.CompletionTokens), item.GetProperty("completion_tokens").GetInt64());
            Assert.Equal(expected.Sum(r => (long)r.PromptTokens + r.CompletionTokens), item.GetProperty("total_tokens").GetInt64());
            Assert.Equal(expected.Sum(r => r.Cost), item.GetProperty("cost").GetDecimal());
            Assert.Equal(expected.Count(r => r.Status >= 400), item.GetProperty("errors").GetInt64());
            Assert.False(item.TryGetProperty("model", out _));
        }
        var totals = body.GetProperty("totals");
        Assert.Equal(rows.Count, totals.GetProperty("requests").GetInt64());
        Assert.Equal(rows.Sum(r => r.Cost), totals.GetProperty("cost").GetDecimal());
    }

    [Fact]
    public async Task GetUsage_GroupByModel_WithDateRange_CountsOnlyThoseDays()
    {
        var (db, rows) = await SeedAsync();
        await using var app = await HostAsync(db);

        var (status, body) = await GetAsync(app, "/admin/usage?group_by=model&from=2026-11-21&to=2026-11-21");

        Assert.Equal(HttpStatusCode.OK, status);
        var onD2 = rows.Where(r => DateOnly.FromDateTime(r.StartedAt.UtcDateTime) == D2).ToArray();
        var data = body.GetProperty("data").EnumerateArray().ToDictionary(d => d.GetProperty("model").GetString()!, d => d.GetProperty("requests").GetInt64());
        Assert.Equal(onD2.GroupBy(r => r.Model).ToDictionary(g => g.Key, g => (long)g.Count()), data);
        Assert.Equal("2026-11-21", body.GetProperty("from").GetString());
    }

    [Fact]
    public async Task GetUsage_GroupByKey_NoKeyRowsUnderTheZeroId()
    {
        var (db, rows) = await SeedAsync();
        await using var app = await HostAsync(db);

        var (_, body) = await GetAsync(app, "/admin/usage?group_by=key&model=code");

        var data = body.GetProperty("data").EnumerateArray()
            .ToDictionary(d => d.GetProperty("key_id").GetGuid(), d => d.GetProperty("completion_tokens").GetInt64());
        var expected = rows.Where(r => r.Model == "code").GroupBy(r => r.KeyId ?? Guid.Empty)
            .ToDictionary(g => g.Key, g => g.Sum(r => (long)r.CompletionTokens));
        Assert.Equal(expected, data);
        Assert.Contains(Guid.Empty, data.Keys);
    }

    [Fact]
    public async Task GetKeyUsage_OneKey_GroupedByDayAndModel()
    {
        var (db, rows) = await SeedAsync();
        await using var app = await HostAsync(db);

        var (status, body) = await GetAsync(app, $"/admin/keys/{KeyB}/usage?group_by=day,model");

        Assert.Equal(HttpStatusCode.OK, status);
        var data = body.GetProperty("data").EnumerateArray()
            .ToDictionary(d => (d.GetProperty("day").GetString(), d.GetProperty("model").GetString()), d => d.GetProperty("requests").GetInt64());
        var expected = rows.Where(r => r.KeyId == KeyB)
            .GroupBy(r => (DateOnly.FromDateTime(r.StartedAt.UtcDateTime).ToString("yyyy-MM-dd"), r.Model))
            .ToDictionary(g => ((string?)g.Key.Item1, (string?)g.Key.Model), g => (long)g.Count());
        Assert.Equal(expected, data);
        Assert.Equal(KeyB, body.GetProperty("key_id").GetGuid());
        Assert.Equal(rows.Count(r => r.KeyId == KeyB), body.GetProperty("totals").GetProperty("requests").GetInt64());
    }

    [Fact]
    public async Task GetUsage_NoGrouping_TotalsOnly_AndZeroForAnUnusedKey()
    {
        var (db, rows) = await SeedAsync();
        await using var app = await HostAsync(db);

        var (_, all) = await GetAsync(app, "/admin/usage");
        var (_, none) = await GetAsync(app, $"/admin/usage?key_id={Guid.NewGuid()}");

        Assert.Equal(rows.Count, all.GetProperty("totals").GetProperty("requests").GetInt64());
        Assert.Empty(all.GetProperty("data").EnumerateArray());
        Assert.Equal(0, none.GetProperty("totals").GetProperty("requests").GetInt64());
    }

    [Theory]
    [InlineData("/admin/usage?from=2026-13-01", "from")]
    [InlineData("/admin/usage?to=yesterday", "to")]
    [InlineData("/admin/usage?from=2026-11-22&to=2026-11-21", "from")]
    [InlineData("/admin/usage?group_by=week", "group_by")]
    [InlineData("/admin/usage?group_by=day,hour", "group_by")]
    [InlineData("/admin/usage?key_id=sk-123", "key_id")]
    [InlineData("/admin/usage?groupby=day", "groupby")]
    [InlineData("/admin/usage?model=a&model=b", "model")]
    [InlineData("/admin/keys/aaaaaaaa-0000-0000-0000-000000000001/usage?key_id=aaaaaaaa-0000-0000-0000-000000000001", "key_id")]
    public async Task GetUsage_BadParameter_Returns400NamingIt(string url, string param)
    {
        var db = await postgres.CreateDatabaseAsync();
        await using var app = await HostAsync(db);

        var (status, body) = await GetAsync(app, url);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(param, body.GetProperty("error").GetProperty("param").GetString());
        Assert.Equal("invalid_request_error", body.GetProperty("error").GetProperty("type").GetString());
    }

    [Theory]
    [InlineData("not-a-uuid")]
    [InlineData("sk-k7tX2mPq9vB4nR8sW1yZ3cF6hJ0dL5aE")]
    [InlineData("aaaaaaaa-0000-0000-0000-00000000dead")]
    public async Task GetKeyUsage_NoSuchKey_Returns404_WithoutEchoingWhatWasSent(string id)
    {
        var (db, _) = await SeedAsync();
        await using var app = await HostAsync(db);

        var (status, body) = await GetAsync(app, $"/admin/keys/{id}/usage");

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("key_not_found", body.GetProperty("error").GetProperty("code").GetString());
        Assert.DoesNotContain(id, body.GetRawText());
    }

    [Fact]
    public async Task GetUsage_KeyIdGivenASecret_Returns400_WithoutEchoingIt()
    {
        await using var app = await HostAsync(await postgres.CreateDatabaseAsync());

        var (status, body) = await GetAsync(app, "/admin/usage?key_id=sk-k7tX2mPq9vB4nR8sW1yZ3cF6hJ0dL5aE");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.DoesNotContain("k7tX2mPq9vB4", body.GetRawText());
    }

    [Fact]
    public async Task GetUsage_TimestampBounds_AreReducedToUtcDates()
    {
        var (db, rows) = await SeedAsync();
        await using var app = await HostAsync(db);

        var (status, body) = await GetAsync(app, "/admin/usage?from=2026-11-20T23:30:00Z&to=2026-11-20T23:59:59Z");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(rows.Count(r => DateOnly.FromDateTime(r.StartedAt.UtcDateTime) == D1), body.GetProperty("totals").GetProperty("requests").GetInt64());
    }

    [Fact]
    public async Task GetUsage_NoDatabaseConfigured_Returns503()
    {
        await using var app = await HostAsync(null);

        var (status, body) = await GetAsync(app, "/admin/usage?group_by=day");
        var (keyStatus, _) = await GetAsync(app, $"/admin/keys/{KeyA}/usage");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, keyStatus);
        Assert.Equal("database_not_configured", body.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task GetUsage_DatabaseUnreachable_Returns503WithRetryAfter()
    {
        var url = $"Host=127.0.0.1;Port={Services.RedisServer.FreeTcpPort()};Username=postgres;Database=none;Timeout=2";
        await using var app = await HostAsync(url);

        using var response = await app.GetTestClient().GetAsync("/admin/usage");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.Contains("database_unavailable", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Query_ReadsTheRollupOnly_NotTheUsageTable()
    {
        var (db, rows) = await SeedAsync();
        // With the per-request rows gone, the totals must still be there.
        await using (var connection = new NpgsqlConnection(db))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("TRUNCATE usage", connection);
            await command.ExecuteNonQueryAsync();
        }
        await using var app = await HostAsync(db);

        var (_, body) = await GetAsync(app, "/admin/usage?group_by=key");

        Assert.Equal(rows.Count, body.GetProperty("totals").GetProperty("requests").GetInt64());
    }
}
