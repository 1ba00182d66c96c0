using LlmRouter.Backends;
using LlmRouter.Configuration;
using LlmRouter.Errors;
using LlmRouter.OpenAi;
using Microsoft.AspNetCore.Http.Features;

namespace LlmRouter.Streaming;

/// <summary>How an answer ended, for accounting.</summary>
internal enum RelayStatus
{
    Completed,
    /// <summary>Failed after the stream started; the client got an error frame.</summary>
    FailedMidStream,
    ClientCanceled,
}

internal sealed record RelayOutcome(RelayStatus Status, int PromptTokens, int CompletionTokens, TimeSpan TimeToFirstToken);

/// <summary>
/// Relays one answer from a backend to the client: each chunk is written and flushed as it arrives,
/// one cancellation source covers client disconnect, first-byte, idle and total timeouts, and a failure after
/// the first byte becomes an error frame. Failures before the first byte are thrown, so callers may retry.
/// </summary>
internal sealed class GenerationRelay(RouterSettings settings, TimeProvider time)
{
    public async Task<RelayOutcome> RunAsync(HttpContext context, IModelBackend backend, Deployment deployment,
        PreparedRequest request, AnswerWriter writer)
    {
        var started = time.GetTimestamp();
        var totalBudget = settings.Timeout;
        var firstByte = request.Stream ? settings.StreamTimeout ?? settings.Timeout : Min(settings.FirstTokenTimeout, settings.Timeout);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        cancel.CancelAfter(Min(firstByte, totalBudget));

        IGenerationStream stream;
        try
        {
            stream = await backend.StartGenerationAsync(deployment, request, cancel.Token);
        }
        catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
        {
            throw new BackendFailureException(FailureKind.Timeout, $"Backend {deployment.Id} sent no answer within {Min(firstByte, totalBudget).TotalSeconds:0.#} s.");
        }
        var timeToFirstToken = time.GetElapsedTime(started);

        await using (stream)
        {
            var response = context.Response;
            var output = response.BodyWriter;
            if (request.Stream)
            {
                response.StatusCode = StatusCodes.Status200OK;
                response.ContentType = "text/event-stream";
                response.Headers.CacheControl = "no-cache";
                response.Headers["X-Accel-Buffering"] = "no";
                context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
            }
            var chunk = stream.Current;
            var relayed = 0;
            try
            {
                while (true)
                {
                    if (chunk.Error is { } error)
                    {
                        return await FailAsync(context, writer, request, ApiError.BackendError($"Backend {deployment.Id} failed mid-answer: {error}"), relayed, timeToFirstToken);
                    }
                    if (chunk.HasDelta)
                    {
                        writer.WriteDelta(output, chunk);
                        relayed++;
                    }
                    if (chunk.Done)
                    {
                        if (!request.Stream)
                        {
                            // Headers go out with the first byte written to the pipe, so they are set first.
                            response.StatusCode = StatusCodes.Status200OK;
                            response.ContentType = "application/json";
                        }
                        writer.WriteEnd(output, chunk);
                        await output.FlushAsync(context.RequestAborted);
                        return new RelayOutcome(RelayStatus.Completed, chunk.PromptTokens, chunk.CompletionTokens, timeToFirstToken);
                    }
                    if (request.Stream && chunk.HasDelta)
                    {
                        var flush = await output.FlushAsync(cancel.Token);
                        if (flush.IsCompleted || flush.IsCanceled) return new RelayOutcome(RelayStatus.ClientCanceled, 0, relayed, timeToFirstToken);
                    }
                    var remaining = totalBudget - time.GetElapsedTime(started);
                    if (remaining <= TimeSpan.Zero) throw new OperationCanceledException();
                    cancel.CancelAfter(Min(settings.IdleTimeout, remaining));
                    if (!await stream.MoveNextAsync(cancel.Token))
                    {
                        return await FailAsync(context, writer, request,
                            ApiError.BackendError($"Backend {deployment.Id} ended the answer before it was complete."), relayed, timeToFirstToken);
                    }
                }
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
            {
                // Leaving the using block disposes the upstream response, which closes its connection:
                // Ollama sees the disconnect and stops generating.
                return new RelayOutcome(RelayStatus.ClientCanceled, 0, relayed, timeToFirstToken);
            }
            catch (OperationCanceledException)
            {
                return await FailAsync(context, writer, request, ApiError.Timeout($"Backend {deployment.Id} stopped sending: no chunk within the idle or total timeout."), relayed, timeToFirstToken);
            }
            catch (Exception e) when (e is HttpRequestException or IOException)
            {
                return await FailAsync(context, writer, request, ApiError.BackendError($"Backend {deployment.Id} dropped the connection mid-answer."), relayed, timeToFirstToken);
            }
            catch (System.Text.Json.JsonException)
            {
                return await FailAsync(context, writer, request, ApiError.BackendError($"Backend {deployment.Id} sent a line that is not valid JSON."), relayed, timeToFirstToken);
            }
        }
    }

    /// <summary>Streaming: an error frame and no <c>[DONE]</c>. Non-streaming: nothing was written yet, so a plain error response.</summary>
    private static async Task<RelayOutcome> FailAsync(HttpContext context, AnswerWriter writer, PreparedRequest request, ApiError error, int relayed, TimeSpan ttft)
    {
        if (request.Stream)
        {
            AnswerWriter.WriteErrorFrame(context.Response.BodyWriter, error);
            await context.Response.BodyWriter.FlushAsync(context.RequestAborted);
        }
        else
        {
            await ErrorResponses.WriteAsync(context, error);
        }
        return new RelayOutcome(RelayStatus.FailedMidStream, 0, relayed, ttft);
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
