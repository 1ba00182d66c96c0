using System.Buffers;
using System.Text.Json;
using OllamaSimulator.Http;

namespace OllamaSimulator.Generation;

/// <summary>
/// The one tool call the simulator answers with: the first offered tool, each required parameter set to "test".
/// The id follows Ollama's <c>call_</c> + 8 random [a-z0-9].
/// </summary>
internal sealed class ToolCallPlan(string name, IReadOnlyList<string> required)
{
    private const string IdAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";

    /// <summary>Ollama reports a fixed-looking token count for a tool call; the router's usage must match it.</summary>
    public const int EvalCount = 10;

    public string Id { get; } = "call_" + new string(Random.Shared.GetItems(IdAlphabet.AsSpan(), 8));
    public string Name => name;

    /// <summary>Arguments as a JSON object (the native API's form).</summary>
    public void WriteArguments(Utf8JsonWriter json)
    {
        json.WriteStartObject();
        foreach (var parameter in required) json.WriteString(parameter, "test");
        json.WriteEndObject();
    }

    /// <summary>Arguments as a JSON string (the OpenAI form).</summary>
    public string ArgumentsJson()
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        using (var json = new Utf8JsonWriter(buffer, JsonOutput.Options)) WriteArguments(json);
        return JsonBody.Utf8(buffer.WrittenSpan);
    }
}
