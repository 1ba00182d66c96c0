using System.Text.Json;
using OllamaSimulator.Recording;

namespace OllamaSimulator.Control;

/// <summary>The <c>GET /_sim/requests</c> array. Bodies are embedded as JSON when they parse, else null.</summary>
internal static class RequestsJson
{
    public static void Write(Utf8JsonWriter json, IEnumerable<RequestRecord> records)
    {
        json.WriteStartArray();
        foreach (var r in records)
        {
            json.WriteStartObject();
            json.WriteNumber("id"u8, r.Id);
            json.WriteString("method"u8, r.Method);
            json.WriteString("path"u8, r.Path);
            json.WriteStartObject("headers"u8);
            foreach (var (name, value) in r.Headers) json.WriteString(name, value);
            json.WriteEndObject();
            json.WritePropertyName("body"u8);
            if (IsJson(r.Body)) json.WriteRawValue(r.Body, skipInputValidation: true);
            else json.WriteNullValue();
            json.WriteString("receivedAt"u8, r.ReceivedAt);
            json.WriteString("outcome"u8, r.Outcome.ToString().ToLowerInvariant());
            json.WriteNumber("status"u8, r.Status);
            json.WriteNumber("tokensSent"u8, r.TokensSent);
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }

    private static bool IsJson(byte[] body)
    {
        if (body.Length == 0) return false;
        try
        {
            var reader = new Utf8JsonReader(body);
            while (reader.Read())
            {
            }
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
