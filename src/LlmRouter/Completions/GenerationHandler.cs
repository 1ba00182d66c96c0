using LlmRouter.Auth;
using LlmRouter.Backends;
using LlmRouter.Backends.Ollama;
using LlmRouter.Configuration;
using LlmRouter.Errors;
using LlmRouter.Hosting;
using LlmRouter.OpenAi;
using LlmRouter.Routing;
using LlmRouter.Streaming;

namespace LlmRouter.Completions;

/// <summary>The request path for chat and legacy completions: parse, validate, translate, route (retries, fallbacks), relay, account.</summary>
internal sealed class GenerationHandler(CallFactory calls, RequestRouter router, GenerationRelay relay, RequestAccounting accounting,
    RouterSettings settings, TimeProvider time)
{
    public async Task HandleAsync(HttpContext context, Operation operation)
    {
        var startedAt = time.GetTimestamp();
        using var body = await JsonBody.ReadAsync(context.Request, context.RequestAborted);
        var request = ClientRequest.Parse(operation, body.Root);
        var call = calls.Create(context, request, body.Root, RequestCaller.Of(context));
        var prepared = OllamaRequestWriter.Prepare(request with { MaxTokens = call.MaxTokens }, body.Root);
        var now = time.GetUtcNow();
        var deadline = now + settings.Timeout;
        var created = now.ToUnixTimeSeconds();
        AnswerWriter NewWriter() => operation == Operation.Chat
            ? new ChatAnswerWriter(request.Model, request.Stream, request.IncludeUsage, created)
            : new CompletionAnswerWriter(request.Model, request.Stream, request.IncludeUsage, created);

        // A non-streamed answer is read whole within its attempt, each attempt into a writer of its own: attempts run
        // one after another, so the writer left here is the one of the attempt that succeeded.
        AnswerWriter? writer = null;
        Routed<IGenerationStream> routed;
        try
        {
            routed = await router.RouteAsync<IGenerationStream>(call, request.Stream
                    ? (backend, deployment, ct) => backend.StartGenerationAsync(deployment, prepared, ct)
                    : (backend, deployment, ct) => WholeAnswer.CollectAsync(backend, deployment, prepared, writer = NewWriter(), settings, time, deadline, ct),
                deadline, context.RequestAborted);
        }
        catch (ApiErrorException e)
        {
            accounting.Record(context, call, call.Model, null, startedAt, new RequestResult(e.Error.Status, 0, 0, null, e.Error.Code, request.User));
            throw;
        }
        catch (AnswerAbandonedException gone) when (gone.Lease is { } lease)
        {
            // Gone while its (non-streamed) answer was being generated: charged the prompt, by the estimate, and what
            // was generated until then, as a streamed answer cut short is.
            _ = accounting.Finish(context, call, gone.ServedModel, lease, gone.KeyHold, startedAt, new RequestResult(499, call.EstimatedPromptTokens,
                gone.CompletionTokens, time.GetElapsedTime(startedAt, gone.FirstLineAt), null, request.User));
            throw;
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // Gone before an answer reached it: recorded, charged nothing (the router gave the key's reservation back).
            accounting.Record(context, call, call.Model, null, startedAt, new RequestResult(499, 0, 0, null, null, request.User));
            throw;
        }
        // A non-streamed answer was read whole by now: its first token came with its first line.
        var timeToFirstToken = WholeAnswer.FirstLineAt(routed.Value) is { } firstLineAt
            ? time.GetElapsedTime(startedAt, firstLineAt)
            : time.GetElapsedTime(startedAt);
        RoutingHeaders.Apply(context, call, routed, time.GetUtcNow());
        writer ??= NewWriter();

        // Once the backend has finished, the slot and the key's reservation are released with the real count before
        // the answer's last bytes go out (waited for only near a key's limit), and that is what is recorded, even if
        // those bytes no longer reach the client. Recorded then too: a client that has the whole answer has its row
        // in the crash journal, whatever happens to the process next.
        RequestResult? completed = null;
        var outcome = await relay.RelayAsync(context, routed.Value, routed.Deployment, request.Stream, writer, deadline, done =>
        {
            completed = Result(done, call, request, timeToFirstToken);
            return accounting.Finish(context, call, routed, startedAt, completed);
        });
        if (completed is null) _ = accounting.Finish(context, call, routed, startedAt, Result(outcome, call, request, timeToFirstToken));
        accounting.AnswerSent(routed, startedAt);
    }

    private static RequestResult Result(RelayOutcome outcome, RoutedCall call, ClientRequest request, TimeSpan timeToFirstToken)
    {
        var status = outcome.Status switch
        {
            RelayStatus.Completed => 200,
            RelayStatus.ClientCanceled => 499,
            _ => outcome.Error?.Status ?? 502,
        };
        // A cut-short answer is charged for what was relayed; the prompt by the estimate.
        var prompt = outcome.Status == RelayStatus.Completed ? outcome.PromptTokens : call.EstimatedPromptTokens;
        return new RequestResult(status, prompt, outcome.CompletionTokens, timeToFirstToken, outcome.Error?.Code, request.User);
    }
}
