using System.Text.Json.Serialization;

namespace LlmRouter.Usage;

/// <summary>Spill-file lines and admin usage responses, snake_case like the rest of the API.</summary>
[JsonSerializable(typeof(UsageRecord))]
[JsonSerializable(typeof(UsageReport))]
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    RespectNullableAnnotations = true)]
internal sealed partial class UsageJsonContext : JsonSerializerContext;
