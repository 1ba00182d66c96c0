using System.Text.Json.Serialization;

namespace OllamaSimulator.Knobs;

/// <summary>
/// An injected failure. The plain modes strike before the first byte; the "-mid" modes strike after
/// <c>faultAfterTokens</c> tokens have been streamed.
/// </summary>
[JsonConverter(typeof(JsonStringEnumConverter<FaultMode>))]
internal enum FaultMode
{
    [JsonStringEnumMemberName("none")] None,
    [JsonStringEnumMemberName("error-before")] ErrorBefore,
    [JsonStringEnumMemberName("busy")] Busy,
    [JsonStringEnumMemberName("error-mid")] ErrorMid,
    [JsonStringEnumMemberName("hang")] Hang,
    [JsonStringEnumMemberName("hang-mid")] HangMid,
    [JsonStringEnumMemberName("drop")] Drop,
    [JsonStringEnumMemberName("drop-mid")] DropMid,
}
