using OllamaSimulator.Http;
using OllamaSimulator.Knobs;
using OllamaSimulator.Recording;

namespace OllamaSimulator.Generation;

/// <summary>Carries out an injected fault. The same three behaviours serve the "before" and "-mid" variants.</summary>
internal static class Faults
{
    public static bool StrikesBefore(FaultMode fault) => fault is FaultMode.ErrorBefore or FaultMode.Hang or FaultMode.Drop;

    public static bool StrikesMid(FaultMode fault) => fault is FaultMode.ErrorMid or FaultMode.HangMid or FaultMode.DropMid;

    /// <summary>
    /// error: the JSON error (or, mid-stream, the format's error frame); hang: wait until the client leaves, holding the
    /// slot like a stuck runner (ends in <see cref="OperationCanceledException"/>, recorded as cancelled); drop: close
    /// the connection with no further byte. <paramref name="writer"/> is null for answers that are never streamed.
    /// </summary>
    public static async Task StrikeAsync(HttpContext ctx, SimState state, RequestRecord record, FaultMode fault, SimKnobs knobs, IAnswerWriter? writer)
    {
        var started = writer?.HasStarted == true;
        switch (fault)
        {
            case FaultMode.ErrorBefore or FaultMode.ErrorMid:
                state.Log.Finish(record, Outcome.Faulted, started ? StatusCodes.Status200OK : knobs.FaultStatus);
                if (writer is not null) await writer.WriteErrorAsync(knobs.FaultStatus, knobs.FaultMessage, ctx.RequestAborted);
                else await ErrorResponses.WriteAsync(ctx, knobs.FaultStatus, knobs.FaultMessage);
                break;
            case FaultMode.Hang or FaultMode.HangMid:
                await Task.Delay(Timeout.Infinite, ctx.RequestAborted);
                break;
            case FaultMode.Drop or FaultMode.DropMid:
                state.Log.Finish(record, Outcome.Faulted, started ? StatusCodes.Status200OK : 0);
                if (started) await Task.Delay(50, ctx.RequestAborted);
                ctx.Abort();
                break;
        }
    }
}
