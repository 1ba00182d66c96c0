using System.Buffers;
using LlmRouter.Backends;
using LlmRouter.Configuration;
using LlmRouter.Errors;
using LlmRouter.Hosting;
using LlmRouter.OpenAi;
using Microsoft.AspNetCore.Http.Features;

namespace LlmRouter.Streaming;

/// <summary>How an answer ended, for accounting.</summary>
internal enum RelayStatus
{
    Completed,
    /// <summary>Failed after the answer started; the client got an error frame (or, non-streamed, an error response).</summary>
    Failed,
    ClientCanceled,
}

/// <summary>Token counts are the backend's when it finished, else the chunks actually relayed.</summary>
internal sealed record RelayOutcome(RelayStatus Status, int PromptTokens, int CompletionTokens, ApiError? Error = null);

/// <summary>
/// Relays a started answer to the client: each chunk is written and flushed as it arrives (chunks that arrived
/// together leave together), one cancellation source covers client disconnect plus the idle and total timeouts, and a
/// failure after the first byte becomes an error frame and an end without <c>[DONE]</c>, never a fake clean end.
/// Disposing the upstream on the way out closes its connection, which is how Ollama learns the client left and stops
/// generating.
/// </summary>
internal sealed class GenerationRelay(RouterSettings settings, TimeProvider time)
{
    /// <param name="completing">
    /// Called with the outcome once the backend has finished, before the end of the answer is written; the end waits
    /// for the task it returns: what has to be true when the client holds the whole answer is done by then.
    /// </param>
    public async Task<RelayOutcome> RelayAsync(HttpContext context, IGenerationStream upstream, Deployment deployment,
        bool stream, AnswerWriter writer, DateTimeOffset deadline, Func<RelayOutcome, Task>? completing = null)
    {
        await using (upstream)
        {
            var response = context.Response;
            var output = response.BodyWriter;
            if (stream)
            {
                response.StatusCode = StatusCodes.Status200OK;
                response.ContentType = "text/event-stream";
                response.Headers.CacheControl = "no-cache";
                response.Headers["X-Accel-Buffering"] = "no";
                context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
            }
            // Made on first need: a non-streamed answer is usually one line, already read, and never waits on the backend again.
            CancellationTokenSource? cancel = null;
            var chunk = upstream.Current;
            var relayed = 0;
            try
            {
                while (true)
                {
                    if (chunk.Error is { } error)
                        return await FailAsync(context, stream, ApiError.BackendError($"Backend {deployment.Id} failed mid-answer: {error}"), relayed);
                    if (chunk.HasDelta)
                    {
                        writer.WriteDelta(output, chunk);
                        relayed++;
                    }
                    if (chunk.Done)
                    {
                        var outcome = new RelayOutcome(RelayStatus.Completed, chunk.PromptTokens, chunk.CompletionTokens);
                        if (completing is not null) await completing(outcome);
                        if (stream)
                        {
                            writer.WriteEnd(output, chunk);
                            // Completing rather than flushing puts the closing chunk in the same write as [DONE].
                            await response.CompleteAsync();
                        }
                        else
                        {
                            var body = AnswerBuffer.Take();
                            writer.WriteEnd(body, chunk);
                            // The body is copied into the response before this returns, so the buffer is free again.
                            var written = WholeBody.WriteJsonAsync(response, StatusCodes.Status200OK, body.WrittenSpan, context.RequestAborted);
                            AnswerBuffer.Return(body);
                            await written;
                        }
                        return outcome;
                    }
                    // A chunk the next one follows at once (the backend sent both before this read) leaves with it, in
                    // one send: the last token with the end, or a backlog of tokens when the router fell behind.
                    if (stream && chunk.HasDelta && !upstream.NextReady)
                    {
                        cancel ??= CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
                        var flush = await output.FlushAsync(cancel.Token);
                        if (flush.IsCompleted || flush.IsCanceled) return new RelayOutcome(RelayStatus.ClientCanceled, 0, relayed);
                    }
                    var remaining = deadline - time.GetUtcNow();
                    if (remaining <= TimeSpan.Zero) throw new OperationCanceledException();
                    cancel ??= CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
                    cancel.CancelAfter(remaining < settings.IdleTimeout ? remaining : settings.IdleTimeout);
                    if (!await upstream.MoveNextAsync(cancel.Token))
                        return await FailAsync(context, stream, ApiError.BackendError($"Backend {deployment.Id} ended the answer before it was complete."), relayed);
                }
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
            {
                return new RelayOutcome(RelayStatus.ClientCanceled, 0, relayed);
            }
            catch (OperationCanceledException)
            {
                return await FailAsync(context, stream, ApiError.Timeout($"Backend {deployment.Id} stopped sending: no chunk within the idle or total timeout."), relayed);
            }
            catch (Exception e) when (e is HttpRequestException or IOException)
            {
                return await FailAsync(context, stream, ApiError.BackendError($"Backend {deployment.Id} dropped the connection mid-answer."), relayed);
            }
            catch (System.Text.Json.JsonException)
            {
                return await FailAsync(context, stream, ApiError.BackendError($"Backend {deployment.Id} sent a line that is not valid JSON."), relayed);
            }
            finally
            {
                cancel?.Dispose();
            }
        }
    }

    /// <summary>
    /// One buffer per thread for whole answers, which are built and copied out without an await in between: a
    /// non-streamed answer no longer allocates one (7% of the bytes a request allocated). A buffer grown past
    /// <see cref="KeptBytes"/> by a long answer is dropped rather than kept.
    /// </summary>
    private static class AnswerBuffer
    {
        private const int KeptBytes = 64 * 1024;
        [ThreadStatic] private static ArrayBufferWriter<byte>? t_buffer;

        public static ArrayBufferWriter<byte> Take()
        {
            var buffer = t_buffer ?? new ArrayBufferWriter<byte>(1024);
            t_buffer = null;
            return buffer;
        }

        public static void Return(ArrayBufferWriter<byte> buffer)
        {
            if (buffer.Capacity > KeptBytes) return;
            buffer.ResetWrittenCount();
            t_buffer = buffer;
        }
    }

    /// <summary>Streaming: an error frame and no <c>[DONE]</c>. Non-streaming: nothing was written yet, so a plain error response.</summary>
    private static async Task<RelayOutcome> FailAsync(HttpContext context, bool stream, ApiError error, int relayed)
    {
        if (stream)
        {
            AnswerWriter.WriteErrorFrame(context.Response.BodyWriter, error);
            await context.Response.BodyWriter.FlushAsync(context.RequestAborted);
        }
        else
        {
            await ErrorResponses.WriteAsync(context, error);
        }
        return new RelayOutcome(RelayStatus.Failed, 0, relayed, error);
    }
}
