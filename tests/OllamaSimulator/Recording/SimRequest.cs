
namespace OllamaSimulator.Recording;

/// <summary>Per-request data gathered once by <see cref="RecordingMiddleware"/>, so handlers never re-read the body.</summary>
internal sealed class SimRequest(RequestRecord record, byte[] body, long startTimestamp)
{
    public RequestRecord Record => record;
    public byte[] Body => body;

    /// <summary><see cref="System.Diagnostics.Stopwatch"/> timestamp of arrival; <c>total_duration</c> counts from here.</summary>
    public long StartTimestamp => startTimestamp;

    public static SimRequest Of(HttpContext ctx) =>
        ctx.Features.Get<SimRequest>() ?? throw new InvalidOperationException("RecordingMiddleware did not run for this request.");
}
