using System.Diagnostics;
using OllamaSimulator.Http;
using OllamaSimulator.Knobs;
using OllamaSimulator.Models;
using OllamaSimulator.Recording;

namespace OllamaSimulator.Generation;

/// <summary>
/// What happens before a runner answers, in Ollama's order: the queue (503 when full), the test hold, the model
/// load (<c>loadDelayMs</c> when not in memory), and the faults that strike before the first byte.
/// </summary>
internal static class GenerationGate
{
    /// <summary>Returns the admission, or null when the request has already been answered (error, busy, drop).</summary>
    public static async Task<Admission?> AdmitAsync(HttpContext ctx, SimState state, SimRequest request, ModelEntry model)
    {
        var ct = ctx.RequestAborted;
        var fault = state.Knobs.TakeFault();
        if (fault == FaultMode.Busy)
        {
            state.Log.Finish(request.Record, Outcome.Faulted, StatusCodes.Status503ServiceUnavailable);
            await ErrorResponses.WriteAsync(ctx, StatusCodes.Status503ServiceUnavailable, ErrorResponses.Busy);
            return null;
        }

        var lease = await state.Slots.EnterAsync(ct);
        if (lease is null)
        {
            state.Log.Finish(request.Record, Outcome.Rejected, StatusCodes.Status503ServiceUnavailable);
            await ErrorResponses.WriteAsync(ctx, StatusCodes.Status503ServiceUnavailable, ErrorResponses.Busy);
            return null;
        }

        try
        {
            await state.Hold.WaitAsync(ct);
            var knobs = state.Knobs.Current;
            if (!state.Models.IsLoaded(model))
            {
                if (knobs.LoadDelayMs > 0) await Task.Delay(knobs.LoadDelayMs, ct);
                state.Models.MarkLoaded(model);
            }
            var loadedAt = Stopwatch.GetTimestamp();

            if (Faults.StrikesBefore(fault))
            {
                await Faults.StrikeAsync(ctx, state, request.Record, fault, knobs, writer: null);
                lease.Dispose();
                return null;
            }
            return new Admission(lease, Faults.StrikesMid(fault) ? fault : FaultMode.None, knobs, loadedAt);
        }
        catch
        {
            lease.Dispose();
            throw;
        }
    }
}
