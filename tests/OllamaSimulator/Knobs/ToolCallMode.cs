using System.Text.Json.Serialization;

namespace OllamaSimulator.Knobs;

/// <summary>Whether a chat request that offers tools is answered with a tool call.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ToolCallMode>))]
internal enum ToolCallMode
{
    [JsonStringEnumMemberName("auto")] Auto,
    [JsonStringEnumMemberName("never")] Never,
}
