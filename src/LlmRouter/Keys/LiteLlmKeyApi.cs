using System.Text.Json;
using LlmRouter.Auth;
using LlmRouter.Data;
using LlmRouter.Errors;
using LlmRouter.Keys.Storage;

namespace LlmRouter.Keys;

/// <summary>
/// LiteLLM's <c>/key/*</c> routes with LiteLLM's field names, so existing admin scripts keep working. Where LiteLLM
/// returns or accepts the key's hash (<c>token</c>, <c>token_id</c>, <c>/key/list</c> entries) we use the key id;
/// where it echoes a secret we return the id, so a secret appears only in the generate and regenerate responses.
/// </summary>
internal static class LiteLlmKeyApi
{
    public static RouteGroupBuilder MapLiteLlmKeyApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/key")
            .AddEndpointFilter<AdminFilter>()
            .AddEndpointFilter<DatabaseRequiredFilter>()
            .WithTags("LiteLLM: keys");
        group.MapPost("/generate", Generate).WithName("LiteLlmKeyGenerate");
        group.MapPost("/update", Update).WithName("LiteLlmKeyUpdate");
        group.MapPost("/delete", Delete).WithName("LiteLlmKeyDelete").WithSummary("Revokes the keys (they stay listed with status=deleted).");
        group.MapGet("/info", Info).WithName("LiteLlmKeyInfo").WithMetadata(new AllowKeySelfService())
            .WithSummary("A key's settings; a key without is_admin may ask about itself.");
        group.MapGet("/list", List).WithName("LiteLlmKeyList");
        group.MapPost("/regenerate", (HttpContext http, KeyStore store, KeyRequestReader reader) => Regenerate(null, http, store, reader))
            .WithName("LiteLlmKeyRegenerate");
        group.MapPost("/{key}/regenerate", (string key, HttpContext http, KeyStore store, KeyRequestReader reader) => Regenerate(key, http, store, reader))
            .WithName("LiteLlmKeyRegenerateByPath");
        group.MapPost("/block", (HttpContext http, KeyStore store) => SetBlocked(http, store, blocked: true)).WithName("LiteLlmKeyBlock");
        group.MapPost("/unblock", (HttpContext http, KeyStore store) => SetBlocked(http, store, blocked: false)).WithName("LiteLlmKeyUnblock");
        return group;
    }

    private static async Task<IResult> Generate(HttpContext http, KeyStore store, KeyRequestReader reader)
    {
        var changes = reader.Read(await RequestBody.ReadObjectAsync(http), KeyApiStyle.LiteLlm);
        return Issued(await store.MintAsync(changes, http.RequestAborted));
    }

    private static async Task<IResult> Update(HttpContext http, KeyStore store, KeyRequestReader reader)
    {
        string? key = null;
        var changes = reader.Read(await RequestBody.ReadObjectAsync(http), KeyApiStyle.LiteLlm, (name, value) => TakeKey(name, value, ref key));
        var row = await ResolveAsync(key ?? throw Missing("key"), "key", store, http.RequestAborted);
        row = await store.UpdateAsync(row.Id, changes, http.RequestAborted);
        return KeyJson.Result(w =>
        {
            w.WriteStartObject();
            w.WriteString("key", row.Id);
            KeyJson.WriteLiteLlmFields(w, row);
            w.WriteEndObject();
        });
    }

    private static async Task<IResult> Delete(HttpContext http, KeyStore store)
    {
        var ids = new List<Guid>();
        var sawList = false;
        foreach (var property in (await RequestBody.ReadObjectAsync(http)).EnumerateObject())
        {
            if (property.Name is not ("keys" or "key_aliases")) throw KeyRequestReader.UnknownField(property.Name, KeyApiStyle.LiteLlm);
            if (property.Value.ValueKind == JsonValueKind.Null) continue;
            if (property.Value.ValueKind != JsonValueKind.Array) throw JsonFields.Invalid(property.Name, $"'{property.Name}' must be an array of strings.");
            var index = 0;
            foreach (var item in property.Value.EnumerateArray())
            {
                var field = $"{property.Name}[{index++}]";
                var text = JsonFields.RequiredString(item, field);
                var row = property.Name == "keys"
                    ? await ResolveAsync(text, field, store, http.RequestAborted)
                    : await store.FindLiveByAliasAsync(text, http.RequestAborted) ?? throw new ApiErrorException(ApiError.KeyNotFound(field));
                ids.Add(row.Id);
                sawList = true;
            }
        }
        if (!sawList) throw JsonFields.Invalid("keys", "Send 'keys' (secrets or key ids) or 'key_aliases', with at least one entry.");
        var revoked = await store.RevokeAsync(ids, http.RequestAborted);
        return KeyJson.Result(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("deleted_keys");
            foreach (var row in revoked) w.WriteStringValue(row.Id);
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    private static async Task<IResult> Info(HttpContext http, KeyStore store)
    {
        var caller = AdminCaller.Of(http);
        var asked = http.Request.Query["key"].ToString();
        ApiKeyRow row;
        if (asked.Length > 0)
        {
            try
            {
                row = await ResolveAsync(asked, "key", store, http.RequestAborted);
            }
            catch (ApiErrorException e) when (e.Error.Status == StatusCodes.Status404NotFound && !caller.IsAdmin)
            {
                // The same answer as for another key that exists: a key without is_admin cannot probe for ids.
                throw new ApiErrorException(ApiError.AdminRequired());
            }
        }
        else if (caller.Key is { } own) row = await store.FindAsync(own.Id, http.RequestAborted) ?? throw new ApiErrorException(ApiError.KeyNotFound("key"));
        else throw Missing("key");
        if (!caller.IsAdmin && row.Id != caller.Key!.Id) throw new ApiErrorException(ApiError.AdminRequired());
        return KeyJson.Result(w =>
        {
            w.WriteStartObject();
            w.WriteString("key", row.Id);
            w.WriteStartObject("info");
            KeyJson.WriteLiteLlmFields(w, row);
            w.WriteEndObject();
            w.WriteEndObject();
        });
    }

    private static async Task<IResult> List(HttpContext http, KeyStore store)
    {
        foreach (var unsupported in new[] { "user_id", "team_id", "organization_id", "project_id", "key_hash", "access_group_id" })
        {
            if (http.Request.Query.ContainsKey(unsupported)) throw JsonFields.Invalid(unsupported, $"Filter '{unsupported}' is not supported by LlmRouter.");
        }
        var page = AdminKeysApi.QueryInt(http, "page", 1, 1, int.MaxValue / 100);
        var size = AdminKeysApi.QueryInt(http, "size", 10, 1, 100);
        var full = http.Request.Query["return_full_object"].ToString() is "true" or "True" or "1";
        var status = http.Request.Query["status"].ToString();
        if (status is not ("" or "deleted")) throw JsonFields.Invalid("status", "'status' may only be 'deleted'.");
        var alias = http.Request.Query["key_alias"].ToString();
        var (rows, total) = await store.ListAsync((page - 1) * size, size, alias.Length > 0 ? alias : null, revoked: status == "deleted", http.RequestAborted);
        return KeyJson.Result(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("keys");
            foreach (var row in rows)
            {
                if (!full)
                {
                    w.WriteStringValue(row.Id);
                    continue;
                }
                w.WriteStartObject();
                KeyJson.WriteLiteLlmFields(w, row);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteNumber("total_count", total);
            w.WriteNumber("current_page", page);
            w.WriteNumber("total_pages", (total + size - 1) / size);
            w.WriteEndObject();
        });
    }

    /// <summary>LiteLLM's rotation: <c>grace_period</c> ("24h", "2d") keeps the old secret valid; omitted means at once, as in LiteLLM.</summary>
    private static async Task<IResult> Regenerate(string? pathKey, HttpContext http, KeyStore store, KeyRequestReader reader)
    {
        string? bodyKey = null;
        var grace = TimeSpan.Zero;
        var changes = reader.Read(await RequestBody.ReadObjectAsync(http), KeyApiStyle.LiteLlm, (name, value) =>
        {
            if (name != "grace_period") return TakeKey(name, value, ref bodyKey);
            grace = value.ValueKind == JsonValueKind.String && value.GetString() == "" ? TimeSpan.Zero : JsonFields.Duration(value, name) ?? TimeSpan.Zero;
            if (grace > AdminKeysApi.MaxGracePeriod)
                throw JsonFields.Invalid(name, $"'{name}' must be at most {AdminKeysApi.MaxGracePeriod.TotalDays:0} days.");
            return true;
        });
        var row = await ResolveAsync(pathKey ?? bodyKey ?? throw Missing("key"), "key", store, http.RequestAborted);
        // Named twice (a secret in one place, its id in the other, say): both must be the same key.
        if (pathKey is not null && bodyKey is not null && bodyKey != pathKey && (await ResolveAsync(bodyKey, "key", store, http.RequestAborted)).Id != row.Id)
            throw JsonFields.Invalid("key", "The 'key' in the body names another key than the path does.");
        return Issued(await store.RotateAsync(row.Id, grace, changes, http.RequestAborted));
    }

    private static async Task<IResult> SetBlocked(HttpContext http, KeyStore store, bool blocked)
    {
        string? key = null;
        foreach (var property in (await RequestBody.ReadObjectAsync(http)).EnumerateObject())
        {
            if (!TakeKey(property.Name, property.Value, ref key)) throw KeyRequestReader.UnknownField(property.Name, KeyApiStyle.LiteLlm);
        }
        var row = await ResolveAsync(key ?? throw Missing("key"), "key", store, http.RequestAborted);
        row = await store.UpdateAsync(row.Id, new KeyChanges { Blocked = blocked }, http.RequestAborted);
        return KeyJson.Result(w =>
        {
            w.WriteStartObject();
            KeyJson.WriteLiteLlmFields(w, row);
            w.WriteEndObject();
        });
    }

    /// <summary>LiteLLM's GenerateKeyResponse: the secret in <c>key</c>, shown only here.</summary>
    private static IResult Issued(IssuedKey issued) => KeyJson.Result(w =>
    {
        w.WriteStartObject();
        w.WriteString("key", issued.Secret);
        w.WriteString("token_id", issued.Row.Id);
        KeyJson.WriteLiteLlmFields(w, issued.Row);
        w.WriteEndObject();
    });

    private static bool TakeKey(string name, JsonElement value, ref string? key)
    {
        if (name != "key") return false;
        key = JsonFields.RequiredString(value, name);
        return true;
    }

    /// <summary>A key named the LiteLLM way: by a secret (<c>sk-…</c>) or by its id (our <c>token</c>). The value is never echoed.</summary>
    private static async Task<ApiKeyRow> ResolveAsync(string identifier, string field, KeyStore store, CancellationToken cancellationToken)
    {
        ApiKeyRow? row;
        if (identifier.StartsWith(KeySecret.Prefix, StringComparison.Ordinal))
            row = KeySecret.HasValidShape(identifier) ? await store.FindBySecretAsync(identifier, cancellationToken) : null;
        else if (Guid.TryParse(identifier, out var id))
            row = await store.FindAsync(id, cancellationToken);
        else
            throw JsonFields.Invalid(field, $"'{field}' must be a key (sk-…) or a key id (the 'token' that /key/info and /key/list return).");
        return row ?? throw new ApiErrorException(ApiError.KeyNotFound(field));
    }

    private static ApiErrorException Missing(string field) => JsonFields.Invalid(field, $"'{field}' is required.");
}
