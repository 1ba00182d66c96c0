using System.Buffers;
using System.Runtime.InteropServices;
using System.Text.Json;
using LlmRouter.Auth;
using LlmRouter.Backends;
using LlmRouter.Backends.Ollama;
using LlmRouter.Configuration;
using LlmRouter.Errors;
using LlmRouter.Hosting;
using LlmRouter.OpenAi;
using LlmRouter.Routing;

namespace LlmRouter.Completions;

/// <summary><c>/v1/embeddings</c> → the backend's embed call → OpenAI's <c>list</c> of <c>embedding</c> objects.</summary>
internal sealed class EmbeddingHandler(CallFactory calls, RequestRouter router, RequestAccounting accounting, RouterSettings settings, TimeProvider time)
{
    public async Task HandleAsync(HttpContext context)
    {
        var startedAt = time.GetTimestamp();
        using var body = await JsonBody.ReadAsync(context.Request, context.RequestAborted);
        var request = ClientRequest.Parse(Operation.Embedding, body.Root);
        var prepared = OllamaRequestWriter.Prepare(request, body.Root);
        var base64 = Fields.String(body.Root, "encoding_format") == "base64";
        var call = calls.Create(context, request, body.Root, RequestCaller.Of(context));

        Routed<EmbeddingResult> routed;
        try
        {
            routed = await router.RouteAsync(call, (backend, deployment, ct) => backend.EmbedAsync(deployment, prepared, ct),
                time.GetUtcNow() + settings.Timeout, context.RequestAborted);
        }
        catch (ApiErrorException e)
        {
            accounting.Record(context, call, call.Model, null, startedAt, new RequestResult(e.Error.Status, 0, 0, null, e.Error.Code, request.User));
            throw;
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // Gone before an answer reached it: recorded, charged nothing (the router gave the key's reservation back).
            accounting.Record(context, call, call.Model, null, startedAt, new RequestResult(499, 0, 0, null, null, request.User));
            throw;
        }
        RoutingHeaders.Apply(context, call, routed, time.GetUtcNow());
        var result = routed.Value;

        var output = new ArrayBufferWriter<byte>(4096);
        using (var writer = new Utf8JsonWriter(output))
        {
            writer.WriteStartObject();
            writer.WriteString("object", "list");
            writer.WriteStartArray("data");
            for (var i = 0; i < result.VectorsJson.Count; i++)
            {
                writer.WriteStartObject();
                writer.WriteString("object", "embedding");
                writer.WritePropertyName("embedding");
                if (base64) writer.WriteStringValue(ToBase64(result.VectorsJson[i].Span));
                else writer.WriteRawValue(result.VectorsJson[i].Span, skipInputValidation: true);
                writer.WriteNumber("index", i);
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteString("model", request.Model);
            writer.WriteStartObject("usage");
            writer.WriteNumber("prompt_tokens", result.PromptTokens);
            writer.WriteNumber("total_tokens", result.PromptTokens);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        // Settled before the answer leaves (and waited for when the key is near a limit): a client that sends its next
        // request as soon as it has this answer finds its quota corrected; the answer is paid for even if the client left.
        await accounting.Finish(context, call, routed, startedAt, new RequestResult(200, result.PromptTokens, 0, time.GetElapsedTime(startedAt), null, request.User));
        try
        {
            await WholeBody.WriteJsonAsync(context.Response, StatusCodes.Status200OK, output.WrittenSpan, context.RequestAborted);
        }
        finally
        {
            accounting.AnswerSent(routed, startedAt);
        }
    }

    /// <summary>OpenAI's base64 form: little-endian float32s.</summary>
    private static string ToBase64(ReadOnlySpan<byte> vectorJson)
    {
        var floats = new List<float>();
        var reader = new Utf8JsonReader(vectorJson);
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.Number) floats.Add(reader.GetSingle());
        }
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("base64 embeddings need a little-endian machine");
        return Convert.ToBase64String(MemoryMarshal.AsBytes(CollectionsMarshal.AsSpan(floats)));
    }
}
