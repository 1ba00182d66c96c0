using Microsoft.AspNetCore.Http;

namespace LlmRouter.Errors;

/// <summary>
/// The one place an exception becomes a response: OpenAI-style JSON, never a stack trace.
/// Once a stream has started, nothing can be sent but an abort.
/// </summary>
internal sealed partial class ErrorHandlingMiddleware(RequestDelegate next, ILogger<ErrorHandlingMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; there is nobody to answer.
        }
        catch (Exception e)
        {
            var error = e switch
            {
                ApiErrorException api => api.Error,
                BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } =>
                    ApiError.RequestTooLarge(context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize ?? 0),
                BadHttpRequestException bad => new ApiError(bad.StatusCode, "invalid_request_error", "invalid_request_error", bad.Message),
                _ => null,
            };
            if (error is null)
            {
                Log.Unhandled(logger, context.Request.Method, Hosting.LogRedaction.RedactPath(context.Request.Path), e);
                error = ApiError.Internal();
            }
            if (context.Response.HasStarted)
            {
                context.Abort();
                return;
            }
            // Clear() drops every header; the request id must survive it so errors can be traced too.
            var requestId = context.Response.Headers[Hosting.RouterHeaders.RequestId];
            context.Response.Clear();
            context.Response.Headers[Hosting.RouterHeaders.RequestId] = requestId;
            await ErrorResponses.WriteAsync(context, error);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "Unhandled error on {Method} {Path}")]
        public static partial void Unhandled(ILogger logger, string method, string path, Exception exception);
    }
}
