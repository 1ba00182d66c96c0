using System.Text.Json;
using LlmRouter.Errors;

namespace LlmRouter.Keys;

/// <summary>The admin endpoints' JSON bodies: an object, or nothing (read as <c>{}</c>).</summary>
internal static class RequestBody
{
    private static readonly JsonElement Empty = JsonDocument.Parse("{}").RootElement;

    public static async Task<JsonElement> ReadObjectAsync(HttpContext context)
    {
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
        if (buffer.Length == 0) return Empty;
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(buffer.GetBuffer().AsMemory(0, (int)buffer.Length));
        }
        catch (JsonException e)
        {
            // The parser's message names a position, never the content, so no secret can leak through it.
            throw new ApiErrorException(ApiError.InvalidRequest($"The request body is not valid JSON: {e.Message}"));
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object) throw new ApiErrorException(ApiError.InvalidRequest("The request body must be a JSON object."));
            OpenAi.JsonSurrogates.Check(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), document.RootElement);
            return document.RootElement.Clone();
        }
    }
}
