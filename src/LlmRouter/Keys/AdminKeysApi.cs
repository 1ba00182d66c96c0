using System.Globalization;
using LlmRouter.Auth;
using LlmRouter.Data;
using LlmRouter.Errors;

namespace LlmRouter.Keys;

/// <summary>
/// <c>/admin/keys</c>: mint, list, read, change, revoke and rotate virtual keys (docs/admin-api.md).
/// The secret appears once, in the mint and rotate responses; the hash never leaves the database.
/// </summary>
internal static class AdminKeysApi
{
    public const int DefaultPageSize = 50;
    public const int MaxPageSize = 500;
    public static readonly TimeSpan DefaultGracePeriod = TimeSpan.FromHours(1);
    /// <summary>The longest an old secret stays valid after a rotation (here and on LiteLLM's <c>/key/regenerate</c>).</summary>
    internal static readonly TimeSpan MaxGracePeriod = TimeSpan.FromDays(365);

    public static RouteGroupBuilder MapAdminKeysApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/admin/keys")
            .AddEndpointFilter<AdminFilter>()
            .AddEndpointFilter<DatabaseRequiredFilter>()
            .WithTags("Admin: keys");
        group.MapPost("", Mint).WithName("MintKey").WithSummary("Mint a key; the response holds its secret, shown only this once.");
        group.MapGet("", List).WithName("ListKeys").WithSummary("Keys in creation order, paged with limit and offset.");
        group.MapGet("/{id}", Get).WithName("GetKey");
        group.MapPatch("/{id}", Patch).WithName("UpdateKey").WithSummary("Change the given fields; null clears a limit.");
        group.MapPost("/{id}/revoke", Revoke).WithName("RevokeKey").WithSummary("Stop the key for good, on every replica within a second.");
        group.MapPost("/{id}/rotate", Rotate).WithName("RotateKey")
            .WithSummary("New secret; the old one keeps working for grace_period_seconds (default 3600).");
        return group;
    }

    private static async Task<IResult> Mint(HttpContext http, KeyStore store, KeyRequestReader reader)
    {
        var changes = reader.Read(await RequestBody.ReadObjectAsync(http), KeyApiStyle.Admin);
        var issued = await store.MintAsync(changes, http.RequestAborted);
        var now = store.Now();
        return KeyJson.Result(w =>
        {
            w.WriteStartObject();
            w.WriteString("key", issued.Secret);
            KeyJson.WriteAdminFields(w, issued.Row, now);
            w.WriteEndObject();
        }, StatusCodes.Status201Created);
    }

    private static async Task<IResult> List(HttpContext http, KeyStore store)
    {
        // A misspelt parameter (?limt=5) would otherwise answer the default page as if it had been read, as /admin/usage refuses.
        foreach (var name in http.Request.Query.Keys)
        {
            if (name is not ("limit" or "offset"))
                throw new ApiErrorException(ApiError.InvalidRequest($"Unknown query parameter '{name}'. Use limit, offset.", name));
        }
        var limit = QueryInt(http, "limit", DefaultPageSize, 1, MaxPageSize);
        var offset = QueryInt(http, "offset", 0, 0, int.MaxValue);
        var (rows, total) = await store.ListAsync(offset, limit, alias: null, revoked: null, http.RequestAborted);
        var now = store.Now();
        return KeyJson.Result(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("data");
            foreach (var row in rows)
            {
                w.WriteStartObject();
                KeyJson.WriteAdminFields(w, row, now);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteNumber("total", total);
            w.WriteNumber("limit", limit);
            w.WriteNumber("offset", offset);
            w.WriteBoolean("has_more", offset + rows.Count < total);
            w.WriteEndObject();
        });
    }

    private static async Task<IResult> Get(string id, HttpContext http, KeyStore store)
    {
        var row = await store.FindAsync(ParseId(id), http.RequestAborted) ?? throw new ApiErrorException(ApiError.KeyNotFound("id"));
        return View(row, store.Now());
    }

    private static async Task<IResult> Patch(string id, HttpContext http, KeyStore store, KeyRequestReader reader)
    {
        var changes = reader.Read(await RequestBody.ReadObjectAsync(http), KeyApiStyle.Admin);
        return View(await store.UpdateAsync(ParseId(id), changes, http.RequestAborted), store.Now());
    }

    private static async Task<IResult> Revoke(string id, HttpContext http, KeyStore store)
    {
        var rows = await store.RevokeAsync([ParseId(id)], http.RequestAborted);
        return View(rows[0], store.Now());
    }

    private static async Task<IResult> Rotate(string id, HttpContext http, KeyStore store)
    {
        var grace = DefaultGracePeriod;
        foreach (var property in (await RequestBody.ReadObjectAsync(http)).EnumerateObject())
        {
            if (property.Name != "grace_period_seconds") throw KeyRequestReader.UnknownField(property.Name, KeyApiStyle.Admin);
            var seconds = JsonFields.NonNegativeLong(property.Value, property.Name) ?? (long)DefaultGracePeriod.TotalSeconds;
            if (seconds > MaxGracePeriod.TotalSeconds) throw JsonFields.Invalid(property.Name, $"'{property.Name}' must be at most {MaxGracePeriod.TotalSeconds:F0} (365 days).");
            grace = TimeSpan.FromSeconds(seconds);
        }
        var issued = await store.RotateAsync(ParseId(id), grace, changes: null, http.RequestAborted);
        var now = store.Now();
        return KeyJson.Result(w =>
        {
            w.WriteStartObject();
            w.WriteString("key", issued.Secret);
            KeyJson.WriteTime(w, "previous_secret_expires_at", issued.PreviousSecretsExpireAt);
            KeyJson.WriteAdminFields(w, issued.Row, now);
            w.WriteEndObject();
        });
    }

    private static IResult View(Storage.ApiKeyRow row, DateTimeOffset now) => KeyJson.Result(w =>
    {
        w.WriteStartObject();
        KeyJson.WriteAdminFields(w, row, now);
        w.WriteEndObject();
    });

    // An id that is not a UUID names no key: the same 404 as an unknown one.
    private static Guid ParseId(string id) => Guid.TryParse(id, out var guid) ? guid : throw new ApiErrorException(ApiError.KeyNotFound("id"));

    public static int QueryInt(HttpContext http, string name, int fallback, int min, int max)
    {
        var text = http.Request.Query[name].ToString();
        if (text.Length == 0) return fallback;
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
            throw new ApiErrorException(ApiError.InvalidRequest($"'{name}' must be a whole number from {min} to {max}.", name));
        return value;
    }
}
