using System.Text.Json;
using LlmRouter.Keys;

namespace LlmRouter.Tests.Keys;

/// <summary>LiteLLM's <c>/key/*</c> aliases, with LiteLLM's field names, round-tripped over HTTP.</summary>
public sealed class LiteLlmKeyApiTests(PostgresFixture fixture) : IClassFixture<PostgresFixture>
{
    [Fact]
    public async Task Generate_Info_List_Update_Block_Unblock_Regenerate_Delete_RoundTrip()
    {
        await using var host = await KeysHttpHost.StartAsync(await fixture.CreateDatabaseAsync());
        var client = host.Client;

        // generate, with LiteLLM's fields
        var (status, generated) = await client.PostJsonAsync("/key/generate", new
        {
            key_alias = "script-key",
            models = new[] { "chat" },
            duration = "30d",
            budget_duration = "30d",
            max_budget = 10.0,
            rpm_limit = 60,
            tpm_limit = 10_000,
            max_parallel_requests = 4,
            metadata = new { owner = "ops" },
            max_tokens = 100_000,
        });
        Assert.Equal(200, status);
        var secret = generated.GetProperty("key").GetString()!;
        var id = generated.GetProperty("token_id").GetString()!;
        Assert.Equal(id, generated.GetProperty("token").GetString());
        Assert.Equal(secret[..7] + "...", generated.GetProperty("key_name").GetString());
        Assert.Equal("script-key", generated.GetProperty("key_alias").GetString());
        Assert.InRange(generated.GetProperty("expires").GetDateTimeOffset() - DateTimeOffset.UtcNow, TimeSpan.FromDays(29.9), TimeSpan.FromDays(30));
        Assert.Equal(KeyLookupStatus.Valid, await Status(host, secret));

        // info by secret, by id, and by the key itself (no ?key=)
        var (infoStatus, info) = await client.GetJsonAsync($"/key/info?key={secret}");
        Assert.Equal(200, infoStatus);
        Assert.Equal(id, info.GetProperty("key").GetString());
        Assert.Equal(60, info.GetProperty("info").GetProperty("rpm_limit").GetInt64());
        Assert.Equal("30d", info.GetProperty("info").GetProperty("budget_duration").GetString());
        Assert.DoesNotContain(secret, info.GetRawText());
        Assert.Equal(id, (await client.GetJsonAsync($"/key/info?key={id}")).Body.GetProperty("key").GetString());
        var (selfStatus, self) = await host.ClientWith(secret).GetJsonAsync("/key/info");
        Assert.Equal(200, selfStatus);
        Assert.Equal("script-key", self.GetProperty("info").GetProperty("key_alias").GetString());

        // list: ids by default, full objects on request, filter by alias, pages
        var otherSecret = (await client.PostJsonAsync("/key/generate", new { key_alias = "other" })).Body.GetProperty("key").GetString()!;
        var (_, list) = await client.GetJsonAsync("/key/list");
        Assert.Equal(2, list.GetProperty("total_count").GetInt32());
        Assert.Equal(id, list.GetProperty("keys")[0].GetString());
        var (_, full) = await client.GetJsonAsync("/key/list?return_full_object=true&key_alias=script-key");
        Assert.Equal(1, full.GetProperty("total_count").GetInt32());
        Assert.Equal("script-key", full.GetProperty("keys")[0].GetProperty("key_alias").GetString());
        var (_, paged) = await client.GetJsonAsync("/key/list?page=2&size=1");
        Assert.Equal(2, paged.GetProperty("current_page").GetInt32());
        Assert.Equal(2, paged.GetProperty("total_pages").GetInt32());
        Assert.Equal(1, paged.GetProperty("keys").GetArrayLength());

        // update by secret, then by id
        var (updateStatus, updated) = await client.PostJsonAsync("/key/update", new { key = secret, rpm_limit = 30, models = new[] { "chat", "code" } });
        Assert.Equal(200, updateStatus);
        Assert.Equal(id, updated.GetProperty("key").GetString());
        Assert.Equal(30, updated.GetProperty("rpm_limit").GetInt64());
        Assert.DoesNotContain(secret, updated.GetRawText());
        Assert.Equal(JsonValueKind.Null,
            (await client.PostJsonAsync("/key/update", new { key = id, max_budget = (decimal?)null })).Body.GetProperty("max_budget").ValueKind);

        // block and unblock
        var (blockStatus, blocked) = await client.PostJsonAsync("/key/block", new { key = secret });
        Assert.Equal(200, blockStatus);
        Assert.True(blocked.GetProperty("blocked").GetBoolean());
        Assert.Equal(KeyLookupStatus.Invalid, await Status(host, secret));
        Assert.False((await client.PostJsonAsync("/key/unblock", new { key = id })).Body.GetProperty("blocked").GetBoolean());
        Assert.Equal(KeyLookupStatus.Valid, await Status(host, secret));

        // regenerate with a grace period (body form), then by path with none (LiteLLM's default: the old secret stops at once)
        var (regenStatus, regenerated) = await client.PostJsonAsync("/key/regenerate", new { key = secret, grace_period = "1h", tpm_limit = 5 });
        Assert.Equal(200, regenStatus);
        var second = regenerated.GetProperty("key").GetString()!;
        Assert.Equal(id, regenerated.GetProperty("token_id").GetString());
        Assert.Equal(5, regenerated.GetProperty("tpm_limit").GetInt64());
        Assert.Equal(KeyLookupStatus.Valid, await Status(host, secret));
        Assert.Equal(KeyLookupStatus.Invalid, await Status(host, secret, DateTimeOffset.UtcNow.AddMinutes(61)));
        var (pathStatus, byPath) = await client.PostJsonAsync($"/key/{second}/regenerate");
        Assert.Equal(200, pathStatus);
        var third = byPath.GetProperty("key").GetString()!;
        Assert.Equal(KeyLookupStatus.Invalid, await Status(host, second));
        Assert.Equal(KeyLookupStatus.Valid, await Status(host, third));
        // named in both places, by its secret in the path and its id in the body: the same key, so rotated
        var (bothStatus, both) = await client.PostJsonAsync($"/key/{third}/regenerate", new { key = id });
        Assert.Equal(200, bothStatus);
        var fourth = both.GetProperty("key").GetString()!;
        Assert.Equal(KeyLookupStatus.Valid, await Status(host, fourth));
        // ... and two keys named: refused, neither rotated
        var (mismatchStatus, mismatch) = await client.PostJsonAsync($"/key/{fourth}/regenerate", new { key = otherSecret });
        Assert.Equal(400, mismatchStatus);
        Assert.Equal("key", mismatch.ErrorParam());
        Assert.Equal(KeyLookupStatus.Valid, await Status(host, fourth));
        Assert.Equal(KeyLookupStatus.Valid, await Status(host, otherSecret));

        // delete by secret and by alias
        var (deleteStatus, deleted) = await client.PostJsonAsync("/key/delete", new { keys = new[] { fourth }, key_aliases = new[] { "other" } });
        Assert.Equal(200, deleteStatus);
        Assert.Equal(2, deleted.GetProperty("deleted_keys").GetArrayLength());
        Assert.Equal(id, deleted.GetProperty("deleted_keys")[0].GetString());
        Assert.Equal(KeyLookupStatus.Invalid, await Status(host, fourth));
        Assert.Equal(0, (await client.GetJsonAsync("/key/list")).Body.GetProperty("total_count").GetInt32());
        Assert.Equal(2, (await client.GetJsonAsync("/key/list?status=deleted")).Body.GetProperty("total_count").GetInt32());
        Assert.NotEqual(JsonValueKind.Null, (await client.GetJsonAsync($"/key/info?key={id}")).Body.GetProperty("info").GetProperty("revoked_at").ValueKind);
    }

    [Theory]
    [InlineData("/key/generate", """{"team_id": "t1"}""", "team_id", "not supported")]
    [InlineData("/key/generate", """{"user_id": "u1"}""", "user_id", "not supported")]
    [InlineData("/key/generate", """{"alias": "x"}""", "alias", "Unknown field")]
    [InlineData("/key/generate", """{"models": ["no-such-model"]}""", "models", "no-such-model")]
    [InlineData("/key/generate", """{"rpm_limit": -5}""", "rpm_limit", "negative")]
    [InlineData("/key/generate", """{"rpm_limit": 9007199254740992}""", "rpm_limit", "at most")]
    [InlineData("/key/generate", """{"max_budget": 99999999999999.9999999}""", "max_budget", "at most")]
    [InlineData("/key/generate", """{"duration": "\ud800"}""", "duration", "surrogate")]
    [InlineData("/key/block", """{"\ud800": 1}""", "", "surrogate")]
    [InlineData("/key/generate", """{"duration": "forever"}""", "duration", "duration")]
    [InlineData("/key/generate", """{"expires_at": "2030-01-01T00:00:00Z"}""", "expires_at", "Unknown field")]
    [InlineData("/key/update", """{"rpm_limit": 5}""", "key", "required")]
    [InlineData("/key/update", """{"key": "not-a-key", "rpm_limit": 5}""", "key", "key id")]
    [InlineData("/key/delete", """{}""", "keys", "at least one")]
    [InlineData("/key/delete", """{"keys": "sk-x"}""", "keys", "array")]
    [InlineData("/key/block", """{"key": "x", "reason": "abuse"}""", "reason", "Unknown field")]
    [InlineData("/key/regenerate", """{"new_key": "sk-mine"}""", "new_key", "not supported")]
    [InlineData("/key/regenerate", """{"grace_period": "soon"}""", "grace_period", "duration")]
    [InlineData("/key/regenerate", """{"grace_period": "700000w"}""", "grace_period", "duration")]
    [InlineData("/key/regenerate", """{"grace_period": "1000d"}""", "grace_period", "365 days")]
    [InlineData("/key/delete", """{"key_aliases": ["a\u0000b"]}""", "key_aliases[0]", "NUL")]
    public async Task InvalidRequests_Return400NamingTheField(string path, string body, string field, string messagePart)
    {
        await using var host = await KeysHttpHost.StartAsync(await fixture.CreateDatabaseAsync());

        var (status, error) = await host.Client.PostJsonAsync(path, body);

        Assert.Equal(400, status);
        Assert.Equal(field, error.ErrorParam());
        Assert.Contains(messagePart, error.ErrorMessage());
    }

    [Fact]
    public async Task UnknownKeys_Are404_AndNeverEchoed()
    {
        await using var host = await KeysHttpHost.StartAsync(await fixture.CreateDatabaseAsync());
        var stranger = KeySecret.Generate();

        foreach (var (path, body) in new[] { ("/key/update", (object)new { key = stranger }), ("/key/block", new { key = stranger }), ("/key/delete", new { keys = new[] { stranger } }) })
        {
            var (status, error) = await host.Client.PostJsonAsync(path, body);
            Assert.Equal(404, status);
            Assert.DoesNotContain(stranger, error.GetRawText());
        }
        Assert.Equal("keys[0]", (await host.Client.PostJsonAsync("/key/delete", new { keys = new[] { stranger } })).Body.ErrorParam());
        Assert.Equal(404, (await host.Client.GetJsonAsync($"/key/info?key={Guid.NewGuid()}")).Status);
        Assert.Equal(400, (await host.Client.GetJsonAsync("/key/info")).Status);
        Assert.Equal("team_id", (await host.Client.GetJsonAsync("/key/list?team_id=t")).Body.ErrorParam());
    }

    [Fact]
    public async Task KeyInfo_ForANonAdminKey_OnlyAboutItself()
    {
        await using var host = await KeysHttpHost.StartAsync(await fixture.CreateDatabaseAsync());
        var mine = (await host.Client.PostJsonAsync("/key/generate")).Body.GetProperty("key").GetString();
        var (_, other) = await host.Client.PostJsonAsync("/key/generate");
        var asMe = host.ClientWith(mine);

        Assert.Equal(200, (await asMe.GetJsonAsync($"/key/info?key={mine}")).Status);
        Assert.Equal(403, (await asMe.GetJsonAsync($"/key/info?key={other.GetProperty("token_id").GetString()}")).Status);
        // A key that does not exist answers the same, so a key without is_admin cannot probe which ids exist.
        Assert.Equal(403, (await asMe.GetJsonAsync($"/key/info?key={Guid.NewGuid()}")).Status);
        Assert.Equal(403, (await asMe.GetJsonAsync("/key/list")).Status);
    }

    [Fact]
    public async Task Regenerate_BodyNamingAnotherKeyThanThePath_Returns400_AndRotatesNeither()
    {
        await using var host = await KeysHttpHost.StartAsync(await fixture.CreateDatabaseAsync());
        var first = (await host.Client.PostJsonAsync("/key/generate")).Body.GetProperty("token_id").GetString();
        var second = (await host.Client.PostJsonAsync("/key/generate")).Body.GetProperty("token_id").GetString();

        var (status, error) = await host.Client.PostJsonAsync($"/key/{first}/regenerate", $$"""{"key": "{{second}}"}""");

        Assert.Equal((400, "key"), (status, error.ErrorParam()));
        Assert.Equal(2, (await host.Client.GetJsonAsync("/key/list")).Body.GetProperty("keys").GetArrayLength());
    }

    private static async Task<KeyLookupStatus> Status(KeysHttpHost host, string secret, DateTimeOffset? now = null) =>
        (await host.Cache.AuthenticateAsync(secret, now ?? DateTimeOffset.UtcNow, CancellationToken.None)).Status;
}
