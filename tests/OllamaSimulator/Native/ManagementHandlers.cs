using OllamaSimulator.Generation;
using OllamaSimulator.Http;
using OllamaSimulator.Models;
using OllamaSimulator.Recording;

namespace OllamaSimulator.Native;

/// <summary><c>/api/pull</c>, <c>/api/delete</c>, <c>/api/copy</c>: they really change the held models.</summary>
internal static class ManagementHandlers
{
    public static async Task PullAsync(HttpContext ctx)
    {
        var state = SimState.Of(ctx);
        string model;
        bool stream;
        using (var body = JsonBody.Parse(SimRequest.Of(ctx).Body, "api.PullRequest"))
        {
            var root = body.RootElement;
            model = JsonFields.String(root, "model", "PullRequest.model") is { Length: > 0 } m ? m
                : JsonFields.String(root, "name", "PullRequest.name") ?? "";
            stream = JsonFields.Bool(root, "stream", "PullRequest.stream") ?? true;
        }
        if (!ModelName.IsValid(model)) throw new ApiException(400, "invalid model name");

        if (!stream)
        {
            state.Models.Add(model);
            await JsonOutput.WriteAsync(ctx.Response, StatusCodes.Status200OK, json => Progress(json, "success"));
            return;
        }

        var preview = ModelEntry.Create(model, DateTimeOffset.Now);
        var lines = new LineFramer(ctx.Response, "application/x-ndjson", [], LineFramer.NdjsonSuffix);
        var ct = ctx.RequestAborted;
        await WriteAsync(lines, json => Progress(json, "pulling manifest"), ct);
        await WriteAsync(lines, json =>
        {
            json.WriteStartObject();
            json.WriteString("status"u8, "pulling " + preview.Digest[..12]);
            json.WriteString("digest"u8, "sha256:" + preview.Digest);
            json.WriteNumber("total"u8, preview.Size);
            json.WriteNumber("completed"u8, preview.Size);
            json.WriteEndObject();
        }, ct);
        await WriteAsync(lines, json => Progress(json, "verifying sha256 digest"), ct);
        await WriteAsync(lines, json => Progress(json, "writing manifest"), ct);
        state.Models.Add(model);
        await WriteAsync(lines, json => Progress(json, "success"), ct);
    }

    public static Task DeleteAsync(HttpContext ctx)
    {
        var state = SimState.Of(ctx);
        string model;
        using (var body = JsonBody.Parse(SimRequest.Of(ctx).Body, "api.DeleteRequest"))
        {
            var root = body.RootElement;
            model = JsonFields.String(root, "model", "DeleteRequest.model") is { Length: > 0 } m ? m
                : JsonFields.String(root, "name", "DeleteRequest.name") ?? "";
        }
        if (!ModelName.IsValid(model)) throw new ApiException(400, $"name \"{model}\" is invalid");
        if (!state.Models.Remove(model)) throw new ApiException(404, $"model '{model}' not found");
        ctx.Response.StatusCode = StatusCodes.Status200OK;
        return Task.CompletedTask;
    }

    public static Task CopyAsync(HttpContext ctx)
    {
        var state = SimState.Of(ctx);
        string source, destination;
        using (var body = JsonBody.Parse(SimRequest.Of(ctx).Body, "api.CopyRequest"))
        {
            source = JsonFields.String(body.RootElement, "source", "CopyRequest.source") ?? "";
            destination = JsonFields.String(body.RootElement, "destination", "CopyRequest.destination") ?? "";
        }
        if (!ModelName.IsValid(source)) throw new ApiException(400, $"source \"{source}\" is invalid");
        if (!ModelName.IsValid(destination)) throw new ApiException(400, $"destination \"{destination}\" is invalid");
        if (!state.Models.Copy(source, destination)) throw new ApiException(404, $"model \"{source}\" not found");
        ctx.Response.StatusCode = StatusCodes.Status200OK;
        return Task.CompletedTask;
    }

    private static void Progress(System.Text.Json.Utf8JsonWriter json, string status)
    {
        json.WriteStartObject();
        json.WriteString("status"u8, status);
        json.WriteEndObject();
    }

    private static ValueTask WriteAsync(LineFramer lines, Action<System.Text.Json.Utf8JsonWriter> write, CancellationToken ct)
    {
        write(lines.Begin());
        return lines.EndAsync(ct);
    }
}
