using System.Text.Json;

namespace LlmRouter.Errors;

/// <summary>
/// An OpenAI-style error: <c>{"error":{"message","type","param","code"}}</c>.
/// The factory methods are the router's one status table; later features add rows, never change them.
/// </summary>
public sealed record ApiError(int Status, string Type, string Code, string Message, string? Param = null)
{
    /// <summary>Plain JSON escaping: these bodies are API responses, never embedded in HTML.</summary>
    public static readonly JsonWriterOptions JsonOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Seconds the client should wait, sent as <c>Retry-After</c>.</summary>
    public int? RetryAfterSeconds { get; init; }

    /// <summary>Extra response headers (e.g. <c>x-ratelimit-*</c> on a 429).</summary>
    public IReadOnlyDictionary<string, string>? Headers { get; init; }

    public static ApiError InvalidRequest(string message, string? param = null) =>
        new(400, "invalid_request_error", "invalid_request_error", message, param);

    public static ApiError InvalidApiKey() =>
        new(401, "invalid_request_error", "invalid_api_key", "Invalid API key. Send it as 'Authorization: Bearer <key>'.");

    public static ApiError ModelNotAllowed(string model) =>
        new(403, "permission_error", "model_not_allowed", $"This key may not use model '{model}'.", "model");

    public static ApiError ModelNotFound(string model) =>
        new(404, "invalid_request_error", "model_not_found", $"The model '{model}' does not exist.", "model");

    public static ApiError RouteNotFound(string method, string path) =>
        new(404, "invalid_request_error", "not_found", $"Unknown route: {method} {path}");

    public static ApiError MethodNotAllowed(string method, string path, IReadOnlyList<string> allowed) =>
        new(405, "invalid_request_error", "method_not_allowed", $"{method} is not allowed on {path}; use {string.Join(" or ", allowed)}.");

    public static ApiError RateLimited(string message, int retryAfterSeconds) =>
        new(429, "rate_limit_error", "rate_limit_exceeded", message) { RetryAfterSeconds = retryAfterSeconds };

    public static ApiError InsufficientQuota() =>
        new(429, "insufficient_quota", "insufficient_quota", "This key's token or budget quota for the current period is used up.");

    public static ApiError RequestTooLarge(long limit) =>
        new(413, "invalid_request_error", "request_too_large", $"Request body is larger than the limit of {limit} bytes.");

    public static ApiError BackendError(string message) =>
        new(502, "api_error", "backend_error", message);

    public static ApiError Overloaded(string message, int retryAfterSeconds) =>
        new(503, "api_error", "overloaded", message) { RetryAfterSeconds = retryAfterSeconds };

    public static ApiError DatabaseNotConfigured() =>
        new(503, "api_error", "database_not_configured", "No database is configured (general_settings.database_url), so keys and usage are not available.");

    public static ApiError DatabaseUnavailable(string message = "The database is unreachable; try again shortly.") =>
        new(503, "api_error", "database_unavailable", message) { RetryAfterSeconds = 5 };

    public static ApiError KeyNotFound(string? param = null) =>
        new(404, "invalid_request_error", "key_not_found", "No such key.", param);

    public static ApiError Conflict(string message, string? param = null) =>
        new(409, "invalid_request_error", "conflict", message, param);

    public static ApiError AdminRequired() =>
        new(403, "permission_error", "admin_required", "This endpoint needs the master key or a key with is_admin.");

    /// <summary>A key that is not cached while the database cannot be asked: it may be valid, so never 401.</summary>
    public static ApiError KeyCheckUnavailable() =>
        new(503, "api_error", "key_check_unavailable", "The key cannot be checked right now (database unreachable); retry shortly.") { RetryAfterSeconds = 5 };

    public static ApiError Timeout(string message) =>
        new(504, "api_error", "timeout", message);

    public static ApiError Internal() =>
        new(500, "api_error", "internal_error", "The router failed to handle this request; see its log.");

    /// <summary>Writes the <c>{"error":{…}}</c> object; used for bodies and for mid-stream SSE frames alike.</summary>
    public void WriteTo(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteStartObject("error");
        writer.WriteString("message", Message);
        writer.WriteString("type", Type);
        if (Param is null) writer.WriteNull("param"); else writer.WriteString("param", Param);
        writer.WriteString("code", Code);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }
}
