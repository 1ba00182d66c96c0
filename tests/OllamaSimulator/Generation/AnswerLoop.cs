using System.Diagnostics;
using OllamaSimulator.Recording;

namespace OllamaSimulator.Generation;

/// <summary>
/// Produces the answer: the first-token delay, then one token per <c>tokenIntervalMs</c> (or one tool call), then the
/// final line with metrics. A "-mid" fault takes the place of token number <c>faultAfterTokens</c>, or of the final
/// line when the answer is shorter, so it always strikes.
/// </summary>
internal static class AnswerLoop
{
    public static async Task RunAsync(HttpContext ctx, SimState state, SimRequest request, GenerationJob job, Admission admission, IAnswerWriter writer)
    {
        var ct = ctx.RequestAborted;
        var knobs = admission.Knobs;
        var record = request.Record;

        var count = job.ToolCall is null ? knobs.Tokens : 1;
        var cut = job.ToolCall is null && job.NumPredict >= 0 && job.NumPredict < count;
        if (cut) count = job.NumPredict;
        var faultAt = Faults.StrikesMid(admission.Fault) ? Math.Min(knobs.FaultAfterTokens, count) : -1;

        if (knobs.FirstTokenDelayMs > 0) await Task.Delay(knobs.FirstTokenDelayMs, ct);
        var promptDone = Stopwatch.GetTimestamp();
        var intervalTicks = knobs.TokenIntervalMs * Stopwatch.Frequency / 1000;

        for (var i = 0; i < count; i++)
        {
            if (i > 0 && intervalTicks > 0) await DelayUntilAsync(promptDone + i * intervalTicks, ct);
            if (i == faultAt)
            {
                await Faults.StrikeAsync(ctx, state, record, admission.Fault, knobs, writer);
                return;
            }
            // Counted before the flush so a test that has read the token also sees it counted.
            record.AddToken();
            if (job.ToolCall is { } call) await writer.WriteToolCallAsync(call, ct);
            else await writer.WriteTokenAsync(i, knobs.TimestampTokens, ct);
        }
        if (faultAt == count)
        {
            if (count > 0 && intervalTicks > 0) await DelayUntilAsync(promptDone + count * intervalTicks, ct);
            await Faults.StrikeAsync(ctx, state, record, admission.Fault, knobs, writer);
            return;
        }

        var end = Stopwatch.GetTimestamp();
        var metrics = new AnswerMetrics(
            AnswerMetrics.Ns(request.StartTimestamp, end),
            AnswerMetrics.Ns(request.StartTimestamp, admission.LoadedAt),
            job.PromptEvalCount,
            AnswerMetrics.Ns(admission.LoadedAt, promptDone),
            job.ToolCall is null ? count : ToolCallPlan.EvalCount,
            AnswerMetrics.Ns(promptDone, end));

        // Recorded before the last write so a client that has read the final line finds the request completed.
        state.Log.Finish(record, Outcome.Completed, StatusCodes.Status200OK);
        if (job.UnloadAfter) state.Models.Unload(job.Model);
        await writer.WriteFinalAsync(cut ? "length" : "stop", metrics, ct);
    }

    private static Task DelayUntilAsync(long dueTimestamp, CancellationToken ct)
    {
        var remaining = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), dueTimestamp);
        return remaining > TimeSpan.Zero ? Task.Delay(remaining, ct) : Task.CompletedTask;
    }
}
