using System.Text.Json.Serialization;

namespace LlmRouter.Health;

[JsonSerializable(typeof(Liveliness))]
[JsonSerializable(typeof(ReadinessReport))]
internal sealed partial class HealthJsonContext : JsonSerializerContext;
