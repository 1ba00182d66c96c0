using System.Text.Json;
using System.Text.RegularExpressions;
using LlmRouter.Keys;

namespace LlmRouter.Tests.Keys;

/// <summary><c>/admin/keys</c> over HTTP against a real Postgres.</summary>
public sealed partial class AdminKeysApiTests(PostgresFixture fixture) : IClassFixture<PostgresFixture>
{
    [GeneratedRegex("[0-9a-f]{64}")]
    private static partial Regex Sha256Hex();

    [Fact]
    public async Task Mint_Get_List_Patch_Rotate_Revoke_RoundTrip()
    {
        await using var host = await KeysHttpHost.StartAsync(await fixture.CreateDatabaseAsync());
        var client = host.Client;

        var (status, minted) = await client.PostJsonAsync("/admin/keys", new
        {
            alias = "team-a",
            models = new[] { "chat" },
            rpm_limit = 10,
            tpm_limit = 1000,
            max_parallel_requests = 2,
            max_tokens = 5000,
            budget_duration = "1d",
            max_budget = 2.5,
            metadata = new { team = "a" },
        });
        Assert.Equal(201, status);
        var secret = minted.GetProperty("key").GetString()!;
        var id = minted.GetProperty("id").GetString()!;
        Assert.Equal(KeySecret.Length, secret.Length);
        Assert.StartsWith("sk-", secret);
        Assert.Equal(secret[..7], minted.GetProperty("display_prefix").GetString());
        Assert.Equal("active", minted.GetProperty("status").GetString());
        Assert.Equal("1d", minted.GetProperty("budget_duration").GetString());
        Assert.Equal(2.5m, minted.GetProperty("max_budget").GetDecimal());
        Assert.Equal("a", minted.GetProperty("metadata").GetProperty("team").GetString());
        Assert.DoesNotMatch(Sha256Hex(), minted.GetRawText());

        var (getStatus, fetched) = await client.GetJsonAsync($"/admin/keys/{id}");
        Assert.Equal(200, getStatus);
        Assert.False(fetched.TryGetProperty("key", out _));
        foreach (var field in new[] { "alias", "display_prefix", "models", "rpm_limit", "tpm_limit", "max_parallel_requests", "max_tokens", "max_budget", "created_at" })
            Assert.Equal(minted.GetProperty(field).GetRawText(), fetched.GetProperty(field).GetRawText());

        await client.PostJsonAsync("/admin/keys", new { alias = "team-b" });
        var (_, page) = await client.GetJsonAsync("/admin/keys?limit=1&offset=0");
        Assert.Equal(2, page.GetProperty("total").GetInt32());
        Assert.True(page.GetProperty("has_more").GetBoolean());
        Assert.Equal(id, page.GetProperty("data")[0].GetProperty("id").GetString());
        var (_, second) = await client.GetJsonAsync("/admin/keys?limit=1&offset=1");
        Assert.Equal("team-b", second.GetProperty("data")[0].GetProperty("alias").GetString());
        Assert.False(second.GetProperty("has_more").GetBoolean());

        var (patchStatus, patched) = await client.SendJsonAsync(HttpMethod.Patch, $"/admin/keys/{id}",
            new { rpm_limit = (int?)null, models = new[] { "chat", "code" }, blocked = true });
        Assert.Equal(200, patchStatus);
        Assert.Equal(JsonValueKind.Null, patched.GetProperty("rpm_limit").ValueKind);
        Assert.Equal(1000, patched.GetProperty("tpm_limit").GetInt64());
        Assert.Equal(2, patched.GetProperty("models").GetArrayLength());
        Assert.Equal("blocked", patched.GetProperty("status").GetString());
        Assert.Equal(KeyLookupStatus.Invalid, await Status(host, secret));
        await client.SendJsonAsync(HttpMethod.Patch, $"/admin/keys/{id}", new { blocked = false });
        Assert.Equal(KeyLookupStatus.Valid, await Status(host, secret));

        var (rotateStatus, rotated) = await client.PostJsonAsync($"/admin/keys/{id}/rotate", new { grace_period_seconds = 60 });
        Assert.Equal(200, rotateStatus);
        var newSecret = rotated.GetProperty("key").GetString()!;
        Assert.NotEqual(secret, newSecret);
        Assert.Equal(newSecret[..7], rotated.GetProperty("display_prefix").GetString());
        var graceEnd = rotated.GetProperty("previous_secret_expires_at").GetDateTimeOffset();
        Assert.InRange(graceEnd - DateTimeOffset.UtcNow, TimeSpan.FromSeconds(50), TimeSpan.FromSeconds(61));
        Assert.Equal(KeyLookupStatus.Valid, await Status(host, secret));
        Assert.Equal(KeyLookupStatus.Invalid, await Status(host, secret, graceEnd.AddSeconds(1)));
        Assert.Equal(KeyLookupStatus.Valid, await Status(host, newSecret, graceEnd.AddSeconds(1)));

        var (revokeStatus, revoked) = await client.PostJsonAsync($"/admin/keys/{id}/revoke");
        Assert.Equal(200, revokeStatus);
        Assert.Equal("revoked", revoked.GetProperty("status").GetString());
        Assert.Equal(KeyLookupStatus.Invalid, await Status(host, secret));
        Assert.Equal(KeyLookupStatus.Invalid, await Status(host, newSecret));
        Assert.Equal(409, (await client.SendJsonAsync(HttpMethod.Patch, $"/admin/keys/{id}", new { rpm_limit = 1 })).Status);
        Assert.Equal(409, (await client.PostJsonAsync($"/admin/keys/{id}/rotate")).Status);
        Assert.Equal(200, (await client.PostJsonAsync($"/admin/keys/{id}/revoke")).Status);

        Assert.Equal(404, (await client.GetJsonAsync($"/admin/keys/{Guid.NewGuid()}")).Status);
        Assert.Equal(404, (await client.GetJsonAsync("/admin/keys/not-a-key-id")).Status);
    }

    [Theory]
    [InlineData("""{"rpm_limt": 10}""", "rpm_limt")]
    [InlineData("""{"key_alias": "x"}""", "key_alias")]
    [InlineData("""{"rpm_limit": "10"}""", "rpm_limit")]
    [InlineData("""{"rpm_limit": 1.5}""", "rpm_limit")]
    [InlineData("""{"tpm_limit": -1}""", "tpm_limit")]
    [InlineData("""{"max_parallel_requests": -3}""", "max_parallel_requests")]
    [InlineData("""{"max_tokens": -100}""", "max_tokens")]
    [InlineData("""{"max_budget": -0.01}""", "max_budget")]
    [InlineData("""{"models": ["chat", "gpt-4"]}""", "models")]
    [InlineData("""{"models": "chat"}""", "models")]
    [InlineData("""{"budget_duration": "1y"}""", "budget_duration")]
    [InlineData("""{"budget_duration": -5}""", "budget_duration")]
    [InlineData("""{"metadata": [1, 2]}""", "metadata")]
    [InlineData("""{"expires_at": "tomorrow"}""", "expires_at")]
    [InlineData("""{"expires_at": "2030-01-01T00:00:00Z", "duration": "1d"}""", "duration")]
    [InlineData("""{"is_admin": "yes"}""", "is_admin")]
    [InlineData("""{"blocked": null}""", "blocked")]
    [InlineData("""{"duration": "5000000d"}""", "duration")]
    [InlineData("""{"max_budget": 1e30}""", "max_budget")]
    [InlineData("""{"budget_duration": "700000w", "max_tokens": 100000}""", "budget_duration")]
    [InlineData("""{"expires_at": "1/2/2030"}""", "expires_at")]
    [InlineData("""{"alias": "a\u0000b"}""", "alias")]
    [InlineData("""{"alias": "\ud800"}""", "alias")]
    [InlineData("""{"metadata": {"team": "a\u0000b"}}""", "metadata")]
    [InlineData("""{"metadata": {"x": ["\udc00"]}}""", "metadata")]
    [InlineData("""{"metadata": {"\ud800": 1, "a\u0000": 2}}""", "metadata")]
    [InlineData("""{"metadata": {"\ud800": 1}}""", "metadata")]
    [InlineData("""{"metadata": {"a\u0000": 1}}""", "metadata")]
    [InlineData("""{"models": ["\ud800"]}""", "models")]
    public async Task Mint_InvalidField_Returns400NamingTheField(string body, string field)
    {
        await using var host = await KeysHttpHost.StartAsync(await fixture.CreateDatabaseAsync());

        var (status, error) = await host.Client.PostJsonAsync("/admin/keys", body);

        Assert.Equal(400, status);
        Assert.Equal(field, error.ErrorParam());
        Assert.Contains(field, error.ErrorMessage());
        Assert.Equal(0, (await host.Client.GetJsonAsync("/admin/keys")).Body.GetProperty("total").GetInt32());
    }

    [Theory]
    [InlineData("0.0000004", "0.000001")]
    [InlineData("33.333333333333336", "33.333334")]
    [InlineData("2.5", "2.5")]
    public async Task Mint_MaxBudget_IsKeptToTheMillionth_RoundedUp_NeverToZero(string sent, string kept)
    {
        await using var host = await KeysHttpHost.StartAsync(await fixture.CreateDatabaseAsync());

        var (status, minted) = await host.Client.PostJsonAsync("/admin/keys", $$"""{"max_budget": {{sent}}}""");
        var (_, fetched) = await host.Client.GetJsonAsync($"/admin/keys/{minted.GetProperty("id").GetString()}");

        Assert.Equal(201, status);
        Assert.Equal(decimal.Parse(kept, System.Globalization.CultureInfo.InvariantCulture), minted.GetProperty("max_budget").GetDecimal());
        Assert.Equal(decimal.Parse(kept, System.Globalization.CultureInfo.InvariantCulture), fetched.GetProperty("max_budget").GetDecimal());
    }

    [Fact]
    public async Task PatchAndRotate_InvalidInput_Return400NamingTheField()
    {
        await using var host = await KeysHttpHost.StartAsync(await fixture.CreateDatabaseAsync());
        var (_, minted) = await host.Client.PostJsonAsync("/admin/keys");
        var id = minted.GetProperty("id").GetString();

        Assert.Equal("rpm_limit", (await host.Client.SendJsonAsync(HttpMethod.Patch, $"/admin/keys/{id}", """{"rpm_limit": -1}""")).Body.ErrorParam());
        Assert.Equal("grace_period_seconds", (await host.Client.PostJsonAsync($"/admin/keys/{id}/rotate", """{"grace_period_seconds": -1}""")).Body.ErrorParam());
        Assert.Equal("grace", (await host.Client.PostJsonAsync($"/admin/keys/{id}/rotate", """{"grace": 5}""")).Body.ErrorParam());
        var (status, notJson) = await host.Client.PostJsonAsync("/admin/keys", "{\"alias\": ");
        Assert.Equal(400, status);
        Assert.Contains("not valid JSON", notJson.ErrorMessage());
        Assert.Equal(400, (await host.Client.PostJsonAsync("/admin/keys", "[1]")).Status);
        Assert.Equal("limit", (await host.Client.GetJsonAsync("/admin/keys?limit=0")).Body.ErrorParam());
        Assert.Equal("limt", (await host.Client.GetJsonAsync("/admin/keys?limt=5")).Body.ErrorParam());
        // NUL in a query is the caller's input (Postgres would refuse it as text): 400, before anything reads it.
        var (nulStatus, nul) = await host.Client.GetJsonAsync("/admin/keys?after=a%00b");
        Assert.Equal((400, "after"), (nulStatus, nul.ErrorParam()));
        // ... once the caller has shown its credentials: without them, only a 401.
        Assert.Equal(401, (await host.ClientWith(null).GetJsonAsync("/admin/keys?after=a%00b")).Status);
    }

    [Fact]
    public async Task Alias_OfALiveKey_IsUnique()
    {
        await using var host = await KeysHttpHost.StartAsync(await fixture.CreateDatabaseAsync());
        var (_, first) = await host.Client.PostJsonAsync("/admin/keys", new { alias = "dup" });

        var (status, error) = await host.Client.PostJsonAsync("/admin/keys", new { alias = "dup" });
        Assert.Equal(409, status);
        Assert.Equal("alias", error.ErrorParam());

        await host.Client.PostJsonAsync($"/admin/keys/{first.GetProperty("id").GetString()}/revoke");
        Assert.Equal(201, (await host.Client.PostJsonAsync("/admin/keys", new { alias = "dup" })).Status);
    }

    [Fact]
    public async Task Auth_MasterKeyOrAdminKeyOnly()
    {
        await using var host = await KeysHttpHost.StartAsync(await fixture.CreateDatabaseAsync());
        var (_, admin) = await host.Client.PostJsonAsync("/admin/keys", new { is_admin = true });
        var (_, user) = await host.Client.PostJsonAsync("/admin/keys", new { alias = "user" });
        var adminSecret = admin.GetProperty("key").GetString();
        var userSecret = user.GetProperty("key").GetString();

        Assert.Equal(401, (await host.ClientWith(null).GetJsonAsync("/admin/keys")).Status);
        var (wrongStatus, wrong) = await host.ClientWith("sk-wrong").GetJsonAsync("/admin/keys");
        Assert.Equal(401, wrongStatus);
        Assert.Equal("invalid_api_key", wrong.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(403, (await host.ClientWith(userSecret).GetJsonAsync("/admin/keys")).Status);
        Assert.Equal(403, (await host.ClientWith(userSecret).PostJsonAsync("/key/generate")).Status);
        Assert.Equal(200, (await host.ClientWith(adminSecret).GetJsonAsync("/admin/keys")).Status);
        Assert.Equal(201, (await host.ClientWith(adminSecret).PostJsonAsync("/admin/keys")).Status);

        await host.Client.PostJsonAsync($"/admin/keys/{admin.GetProperty("id").GetString()}/revoke");
        Assert.Equal(401, (await host.ClientWith(adminSecret).GetJsonAsync("/admin/keys")).Status);
    }

    [Fact]
    public async Task NoDatabaseConfigured_KeyEndpointsAnswer503SayingSo()
    {
        await using var host = await KeysHttpHost.StartAsync(databaseUrl: null);

        foreach (var (method, path) in new[] { (HttpMethod.Get, "/admin/keys"), (HttpMethod.Post, "/admin/keys"), (HttpMethod.Get, "/key/list"), (HttpMethod.Post, "/key/generate") })
        {
            var (status, body) = await host.Client.SendJsonAsync(method, path, method == HttpMethod.Post ? new { } : null);
            Assert.Equal(503, status);
            Assert.StartsWith("No database is configured (general_settings.database_url)", body.ErrorMessage());
            Assert.Equal("database_not_configured", body.GetProperty("error").GetProperty("code").GetString());
        }
        // Without the master key the answer is still 401: the caller learns nothing about the setup.
        Assert.Equal(401, (await host.ClientWith(KeySecret.Generate()).GetJsonAsync("/admin/keys")).Status);
    }

    private static async Task<KeyLookupStatus> Status(KeysHttpHost host, string secret, DateTimeOffset? now = null) =>
        (await host.Cache.AuthenticateAsync(secret, now ?? DateTimeOffset.UtcNow, CancellationToken.None)).Status;
}
