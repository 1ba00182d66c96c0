using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using OllamaSimulator.Http;

namespace OllamaSimulator.Control;

/// <summary>
/// <c>/_sim/*</c>: lets a test read and change the simulator while it runs (knobs, models, hold/release) and read
/// what it saw (stats, requests). Not recorded, not subject to faults.
/// </summary>
internal static class ControlApi
{
    public static IEndpointRouteBuilder MapControlApi(this IEndpointRouteBuilder app)
    {
        var sim = app.MapGroup("/_sim");
        sim.MapGet("/config", ctx => Json(ctx, SimState.Of(ctx).Knobs.Current, ControlJson.Default.SimKnobs));
        sim.MapPost("/config", SetConfigAsync);
        sim.MapGet("/models", ctx => Json(ctx, Models(SimState.Of(ctx)), ControlJson.Default.ModelSet));
        sim.MapPost("/models", SetModelsAsync);
        sim.MapPost("/hold", ctx => Do(ctx, s => s.Hold.Hold()));
        sim.MapPost("/release", ctx => Do(ctx, s => s.Hold.Release()));
        sim.MapPost("/reset", ctx => Do(ctx, s => s.Reset()));
        sim.MapGet("/stats", ctx => Json(ctx, SimState.Of(ctx).Stats(), ControlJson.Default.SimStats));
        sim.MapGet("/requests", RequestsAsync);
        return app;
    }

    private static async Task SetConfigAsync(HttpContext ctx)
    {
        var state = SimState.Of(ctx);
        var patch = await ReadAsync(ctx, ControlJson.Default.KnobPatch);
        if (patch is null) return;
        var knobs = patch.ApplyTo(state.Knobs.Current);
        if (knobs.Validate() is { } bad)
        {
            await ErrorResponses.WriteAsync(ctx, 400, $"{JsonNamingPolicy.CamelCase.ConvertName(bad.Knob)}: {bad.Problem}");
            return;
        }
        state.ApplyKnobs(knobs);
        await Json(ctx, knobs, ControlJson.Default.SimKnobs);
    }

    private static async Task SetModelsAsync(HttpContext ctx)
    {
        var state = SimState.Of(ctx);
        var set = await ReadAsync(ctx, ControlJson.Default.ModelSet);
        if (set is null) return;
        var current = state.Models.Names();
        var held = set.Models ?? current.Held;
        // New models without a loaded list are all loaded, as on the command line.
        var loaded = set.Loaded ?? (set.Models is null ? current.Loaded : held);
        if (state.Models.Replace(held, loaded) is { } error)
        {
            await ErrorResponses.WriteAsync(ctx, 400, error);
            return;
        }
        await Json(ctx, Models(state), ControlJson.Default.ModelSet);
    }

    private static Task RequestsAsync(HttpContext ctx)
    {
        var records = SimState.Of(ctx).Log.Snapshot().AsEnumerable();
        // ?path=/api/chat narrows the list, handy when health checks interleave.
        if (ctx.Request.Query["path"] is { Count: > 0 } path) records = records.Where(r => r.Path == path.ToString());
        return JsonOutput.WriteAsync(ctx.Response, 200, json => RequestsJson.Write(json, records));
    }

    private static Task Do(HttpContext ctx, Action<SimState> action)
    {
        var state = SimState.Of(ctx);
        action(state);
        return Json(ctx, state.Stats(), ControlJson.Default.SimStats);
    }

    private static ModelSet Models(SimState state)
    {
        var (held, loaded) = state.Models.Names();
        return new ModelSet(held, loaded);
    }

    private static string Describe(JsonException e) => e.Path switch
    {
        "$.fault" => "fault: expected none|error-before|busy|error-mid|hang|hang-mid|drop|drop-mid",
        "$.toolCalls" => "toolCalls: expected auto|never",
        { Length: > 2 } path when e.Message.StartsWith("The JSON value could not be converted", StringComparison.Ordinal) =>
            $"{path[2..]}: wrong type or out of range",
        _ => e.Message,
    };

    private static Task Json<T>(HttpContext ctx, T value, JsonTypeInfo<T> info) =>
        JsonOutput.WriteAsync(ctx.Response, 200, (value, info), static (json, s) => JsonSerializer.Serialize(json, s.value, s.info));

    /// <summary>Reads the body (empty means no change); on bad JSON answers 400 itself and returns null.</summary>
    private static async Task<T?> ReadAsync<T>(HttpContext ctx, JsonTypeInfo<T> info) where T : class
    {
        using var buffer = new MemoryStream();
        await ctx.Request.Body.CopyToAsync(buffer, ctx.RequestAborted);
        if (buffer.Length == 0) buffer.Write("{}"u8);
        try
        {
            return JsonSerializer.Deserialize(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), info)
                ?? throw new JsonException("the body must be a JSON object");
        }
        catch (JsonException e)
        {
            await ErrorResponses.WriteAsync(ctx, 400, Describe(e));
            return null;
        }
    }
}
