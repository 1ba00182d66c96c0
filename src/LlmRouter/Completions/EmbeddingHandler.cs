using System.Buffers;
using System.Runtime.InteropServices;
using System.Text.Json;
using LlmRouter.Backends;
using LlmRouter.Backends.Ollama;
using LlmRouter.Errors;
using LlmRouter.Hosting;
using LlmRouter.OpenAi;
using LlmRouter.Routing;

namespace LlmRouter.Completions;

/// <summary><c>/v1/embeddings</c> → the backend's embed call → OpenAI's <c>list</c> of <c>embedding</c> objects.</summary>
internal sealed class EmbeddingHandler(ModelCatalog catalog, DeploymentSelector selector, BackendRegistry backends)
{
    public async Task HandleAsync(HttpContext context)
    {
        using var body = await JsonBody.ReadAsync(context.Request, context.RequestAborted);
        var request = ClientRequest.Parse(Operation.Embedding, body.Root);
        if (!catalog.TryGetGroup(request.Model, out var group)) throw new ApiErrorException(ApiError.ModelNotFound(request.Model));
        var prepared = OllamaRequestWriter.Prepare(request, body.Root);
        var base64 = Fields.String(body.Root, "encoding_format") == "base64";

        using var lease = selector.Acquire(group);
        context.Response.Headers[RouterHeaders.Backend] = lease.Deployment.Id;
        EmbeddingResult result;
        try
        {
            result = await backends.For(lease.Deployment).EmbedAsync(lease.Deployment, prepared, context.RequestAborted);
        }
        catch (BackendFailureException e)
        {
            throw new ApiErrorException(e.ToApiError());
        }

        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        var output = context.Response.BodyWriter;
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
        await output.FlushAsync(context.RequestAborted);
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
        var span = CollectionsMarshal.AsSpan(floats);
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("base64 embeddings need a little-endian machine");
        }
        return Convert.ToBase64String(MemoryMarshal.AsBytes(span));
    }
}
