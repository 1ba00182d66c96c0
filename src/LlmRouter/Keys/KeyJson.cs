using System.Buffers;
using System.Text.Json;
using LlmRouter.Errors;
using LlmRouter.Hosting;
using LlmRouter.Keys.Storage;

namespace LlmRouter.Keys;

/// <summary>
/// How keys appear in responses. Never the hash; the secret only where a caller passes it (mint and rotate).
/// The admin view uses our field names, the LiteLLM view LiteLLM's, with the key id where LiteLLM shows its hash.
/// </summary>
internal static class KeyJson
{
    public static void WriteAdminFields(Utf8JsonWriter writer, ApiKeyRow row, DateTimeOffset now)
    {
        writer.WriteString("id", row.Id);
        WriteStringOrNull(writer, "alias", row.Alias);
        writer.WriteString("display_prefix", row.DisplayPrefix);
        writer.WriteString("status", row.StatusAt(now));
        WriteLimits(writer, row);
        WriteTime(writer, "expires_at", row.ExpiresAt);
        writer.WriteBoolean("blocked", row.Blocked);
        writer.WriteBoolean("is_admin", row.IsAdmin);
        writer.WritePropertyName("metadata");
        writer.WriteRawValue(row.Metadata);
        WriteTime(writer, "created_at", row.CreatedAt);
        WriteTime(writer, "updated_at", row.UpdatedAt);
        WriteTime(writer, "last_used_at", row.LastUsedAt);
        WriteTime(writer, "revoked_at", row.RevokedAt);
    }

    /// <summary>LiteLLM's key object (<c>/key/info</c>'s <c>info</c>, <c>/key/list</c> with return_full_object, <c>/key/block</c>).</summary>
    public static void WriteLiteLlmFields(Utf8JsonWriter writer, ApiKeyRow row)
    {
        // LiteLLM puts the hash in 'token'; we put the id, which every /key endpoint accepts wherever LiteLLM takes the hash.
        writer.WriteString("token", row.Id);
        writer.WriteString("key_name", row.DisplayPrefix + "...");
        WriteStringOrNull(writer, "key_alias", row.Alias);
        WriteTime(writer, "expires", row.ExpiresAt);
        WriteLimits(writer, row);
        writer.WritePropertyName("metadata");
        writer.WriteRawValue(row.Metadata);
        writer.WriteBoolean("blocked", row.Blocked);
        writer.WriteBoolean("is_admin", row.IsAdmin);
        WriteTime(writer, "created_at", row.CreatedAt);
        WriteTime(writer, "updated_at", row.UpdatedAt);
        WriteTime(writer, "last_active", row.LastUsedAt);
        WriteTime(writer, "revoked_at", row.RevokedAt);
    }

    private static void WriteLimits(Utf8JsonWriter writer, ApiKeyRow row)
    {
        writer.WriteStartArray("models");
        foreach (var model in row.Models) writer.WriteStringValue(model);
        writer.WriteEndArray();
        WriteNumberOrNull(writer, "rpm_limit", row.RpmLimit);
        WriteNumberOrNull(writer, "tpm_limit", row.TpmLimit);
        WriteNumberOrNull(writer, "max_parallel_requests", row.MaxParallelRequests);
        WriteNumberOrNull(writer, "max_tokens", row.MaxTokens);
        WriteStringOrNull(writer, "budget_duration", row.BudgetDuration is { } d ? Durations.Format(d) : null);
        if (row.MaxBudget is { } budget) writer.WriteNumber("max_budget", Normalize(budget));
        else writer.WriteNull("max_budget");
    }

    public static void WriteTime(Utf8JsonWriter writer, string name, DateTimeOffset? time)
    {
        if (time is { } t) writer.WriteString(name, t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", System.Globalization.CultureInfo.InvariantCulture));
        else writer.WriteNull(name);
    }

    private static void WriteStringOrNull(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is null) writer.WriteNull(name);
        else writer.WriteString(name, value);
    }

    private static void WriteNumberOrNull(Utf8JsonWriter writer, string name, long? value)
    {
        if (value is { } v) writer.WriteNumber(name, v);
        else writer.WriteNull(name);
    }

    /// <summary>numeric(20,6) reads back as 10.500000; this writes 10.5.</summary>
    private static decimal Normalize(decimal value) => value / 1.000000000000000000000000000000000m;

    /// <summary>A JSON response written straight to the body by <paramref name="write"/>.</summary>
    public static IResult Result(Action<Utf8JsonWriter> write, int status = StatusCodes.Status200OK) => new JsonWriterResult(write, status);

    private sealed class JsonWriterResult(Action<Utf8JsonWriter> write, int status) : IResult
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            var buffer = new ArrayBufferWriter<byte>(1024);
            using (var writer = new Utf8JsonWriter(buffer, ApiError.JsonOptions)) write(writer);
            await WholeBody.WriteJsonAsync(httpContext.Response, status, buffer.WrittenSpan, httpContext.RequestAborted);
        }
    }
}
