using System.Text.Json;
using LlmRouter.Backends;
using LlmRouter.Configuration;
using LlmRouter.OpenAi;
using LlmRouter.Routing;

namespace LlmRouter.Streaming;

/// <summary>
/// A non-streamed answer, read to its end inside its attempt. Ollama streams it (see OllamaRequestWriter), so one attempt
/// waits <c>first_token_timeout</c> for generation to start and <c>idle_timeout</c> between lines, however long the whole
/// answer takes; and since the client has been sent nothing yet, an answer that fails partway is a failed attempt, tried
/// again elsewhere like any other.
/// </summary>
internal static class WholeAnswer
{
    /// <summary>
    /// Returns the answer positioned on its final line, everything before it added to <paramref name="writer"/> (which must
    /// be this attempt's own). Failures are <see cref="BackendFailureException"/>s; a client that left is an
    /// <see cref="OperationCanceledException"/> of <paramref name="cancellationToken"/>, an
    /// <see cref="AnswerAbandonedException"/> once the answer had started.
    /// </summary>
    public static async Task<IGenerationStream> CollectAsync(IModelBackend backend, Deployment deployment, PreparedRequest request,
        AnswerWriter writer, RouterSettings settings, TimeProvider time, DateTimeOffset deadline, CancellationToken cancellationToken)
    {
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timer.CancelAfter(CallDeadline.Within(settings.FirstTokenTimeout, deadline, time.GetUtcNow()));
        IGenerationStream? answer = null;
        long firstLineAt = 0;
        var lines = 0;
        try
        {
            answer = await backend.StartGenerationAsync(deployment, request, timer.Token);
            firstLineAt = time.GetTimestamp();
            while (true)
            {
                var chunk = answer.Current;
                if (chunk.Error is { } error)
                    throw new BackendFailureException(FailureKind.Unavailable, $"Backend {deployment.Id} failed mid-answer: {error}");
                // The final line is left for the relay, which adds it and writes the body.
                if (chunk.Done) return new Collected(answer, firstLineAt);
                if (chunk.HasDelta)
                {
                    writer.Add(chunk);
                    lines++;
                }
                timer.CancelAfter(CallDeadline.Within(settings.IdleTimeout, deadline, time.GetUtcNow()));
                if (!await answer.MoveNextAsync(timer.Token))
                    throw new BackendFailureException(FailureKind.BadAnswer, $"Backend {deployment.Id} ended the answer before it was complete.");
            }
        }
        catch (Exception e)
        {
            if (answer is not null) await answer.DisposeAsync();
            // A client that left is nobody's failure, whatever the read it cut short threw. Once generation had started
            // it is charged for what was generated (closing the connection above told Ollama to stop).
            if (cancellationToken.IsCancellationRequested)
            {
                if (answer is not null) throw new AnswerAbandonedException(lines, firstLineAt, cancellationToken);
                throw new OperationCanceledException(cancellationToken);
            }
            var failure = e switch
            {
                OperationCanceledException => new BackendFailureException(FailureKind.Timeout,
                    answer is null
                        ? $"Backend {deployment.Id} sent no first token within first_token_timeout or the call's timeout."
                        : $"Backend {deployment.Id} stopped sending: no chunk within idle_timeout or the call's timeout.", e),
                HttpRequestException or IOException => new BackendFailureException(FailureKind.Unavailable,
                    $"Backend {deployment.Id} dropped the connection mid-answer.", e),
                JsonException => new BackendFailureException(FailureKind.BadAnswer, $"Backend {deployment.Id} sent a line that is not valid JSON.", e),
                _ => null,
            };
            if (failure is null) throw;
            throw failure;
        }
    }

    /// <summary>When a collected answer's first line came (<see cref="TimeProvider.GetTimestamp"/>): its time to first token.</summary>
    public static long? FirstLineAt(IGenerationStream answer) => answer is Collected collected ? collected.FirstLineAt : null;

    /// <summary>The answer as read, on its final line, and when its first line came.</summary>
    private sealed class Collected(IGenerationStream answer, long firstLineAt) : IGenerationStream
    {
        public long FirstLineAt { get; } = firstLineAt;

        public GenerationChunk Current => answer.Current;

        public bool NextReady => answer.NextReady;

        public ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken) => answer.MoveNextAsync(cancellationToken);

        public ValueTask DisposeAsync() => answer.DisposeAsync();
    }
}
