using System.Buffers;
using System.Text.Json;
using LlmRouter.Hosting;
using Microsoft.AspNetCore.Http;

namespace LlmRouter.Errors;

internal static class ErrorResponses
{
    /// <summary>Writes the error as the whole response; only valid before the response has started.</summary>
    public static async Task WriteAsync(HttpContext context, ApiError error)
    {
        var response = context.Response;
        if (error.RetryAfterSeconds is { } seconds)
        {
            response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        if (error.Headers is { } headers)
        {
            foreach (var (name, value) in headers) response.Headers[name] = value;
        }
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, ApiError.JsonOptions))
        {
            error.WriteTo(writer);
        }
        await WholeBody.WriteJsonAsync(response, error.Status, buffer.WrittenSpan, context.RequestAborted);
    }

    public static IResult Result(ApiError error) => new ApiErrorResult(error);

    private sealed class ApiErrorResult(ApiError error) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext) => WriteAsync(httpContext, error);
    }
}
