using OllamaSimulator.Generation;
using OllamaSimulator.Http;
using OllamaSimulator.Knobs;
using OllamaSimulator.Recording;

namespace OllamaSimulator.Native;

/// <summary><c>POST /api/chat</c> and <c>POST /api/generate</c>.</summary>
internal static class GenerationHandlers
{
    public static async Task ChatAsync(HttpContext ctx)
    {
        var (state, request) = (SimState.Of(ctx), SimRequest.Of(ctx));
        GenerationJob job;
        using (var body = JsonBody.Parse(request.Body, "api.ChatRequest")) job = ChatRequestReader.Read(body.RootElement, state);
        await AnswerAsync(ctx, state, request, job, chat: true);
    }

    public static async Task GenerateAsync(HttpContext ctx)
    {
        var (state, request) = (SimState.Of(ctx), SimRequest.Of(ctx));
        GenerationJob job;
        using (var body = JsonBody.Parse(request.Body, "api.GenerateRequest")) job = GenerateRequestReader.Read(body.RootElement, state);
        await AnswerAsync(ctx, state, request, job, chat: false);
    }

    private static async Task AnswerAsync(HttpContext ctx, SimState state, SimRequest request, GenerationJob job, bool chat)
    {
        // Empty messages with keep_alive 0: Ollama unloads before scheduling anything.
        if (job is { LoadOnly: true, UnloadAfter: true })
        {
            state.Models.Unload(job.Model);
            await NativeJson.WriteLoadAsync(ctx, job.RequestedModel, chat, "unload");
            return;
        }

        using var admission = await GenerationGate.AdmitAsync(ctx, state, request, job.Model);
        if (admission is null) return;

        if (job.LoadOnly)
        {
            if (admission.Fault != FaultMode.None)
            {
                await Faults.StrikeAsync(ctx, state, request.Record, admission.Fault, admission.Knobs, writer: null);
                return;
            }
            state.Log.Finish(request.Record, Outcome.Completed, StatusCodes.Status200OK);
            await NativeJson.WriteLoadAsync(ctx, job.RequestedModel, chat, "load");
            return;
        }

        IAnswerWriter writer = job.Stream ? new NativeStreamWriter(ctx, job, chat) : new NativeAggregateWriter(ctx, job, chat);
        await AnswerLoop.RunAsync(ctx, state, request, job, admission, writer);
    }
}
