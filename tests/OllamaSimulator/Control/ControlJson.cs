using System.Text.Json;
using System.Text.Json.Serialization;
using OllamaSimulator.Knobs;
using OllamaSimulator.Recording;

namespace OllamaSimulator.Control;

/// <summary>Source-generated camelCase JSON for the <c>/_sim/</c> endpoints (and the CLI's enum names).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(SimKnobs))]
[JsonSerializable(typeof(KnobPatch))]
[JsonSerializable(typeof(ModelSet))]
[JsonSerializable(typeof(SimStats))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(FaultMode))]
[JsonSerializable(typeof(ToolCallMode))]
internal sealed partial class ControlJson : JsonSerializerContext;
