using System.Text.Json;
using System.Text.Json.Serialization;

namespace LlmRouter.Discovery;

// Only the fields discovery reads; the rest of Ollama's answers is ignored.

internal sealed record TagsResponse([property: JsonPropertyName("models")] IReadOnlyList<TagsModel>? Models);

internal sealed record TagsModel(
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("model")] string? Model,
    [property: JsonPropertyName("digest")] string? Digest,
    [property: JsonPropertyName("modified_at")] string? ModifiedAt,
    [property: JsonPropertyName("capabilities")] IReadOnlyList<string>? Capabilities);

internal sealed record PsResponse([property: JsonPropertyName("models")] IReadOnlyList<PsModel>? Models);

internal sealed record PsModel(
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("model")] string? Model);

internal sealed record ShowRequest([property: JsonPropertyName("model")] string Model);

internal sealed record ShowResponse([property: JsonPropertyName("model_info")] Dictionary<string, JsonElement>? ModelInfo);

internal sealed record GenerateProbeRequest(
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("prompt")] string Prompt,
    [property: JsonPropertyName("stream")] bool Stream,
    [property: JsonPropertyName("options")] GenerateProbeOptions Options);

internal sealed record GenerateProbeOptions([property: JsonPropertyName("num_predict")] int NumPredict);

internal sealed record EmbedProbeRequest(
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("input")] string Input);

[JsonSerializable(typeof(TagsResponse))]
[JsonSerializable(typeof(PsResponse))]
[JsonSerializable(typeof(ShowRequest))]
[JsonSerializable(typeof(ShowResponse))]
[JsonSerializable(typeof(GenerateProbeRequest))]
[JsonSerializable(typeof(EmbedProbeRequest))]
internal sealed partial class OllamaDiscoveryJsonContext : JsonSerializerContext;
