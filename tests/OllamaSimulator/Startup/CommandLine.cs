using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using OllamaSimulator.Control;
using OllamaSimulator.Knobs;
using OllamaSimulator.Models;

namespace OllamaSimulator.Startup;

/// <summary>
/// Parses <c>--name value</c> / <c>--name=value</c> arguments. Errors come back as one line naming the argument
/// (the caller prints it and exits 2), never as an exception.
/// </summary>
internal static class CommandLine
{
    public const string DefaultModels = "llama3.1:8b,qwen2.5-coder:14b,nomic-embed-text";

    public static (SimStartup? Startup, string? Error) Parse(IReadOnlyList<string> args)
    {
        var host = "127.0.0.1";
        var port = 11434;
        var models = Split(DefaultModels);
        IReadOnlyList<string>? loaded = null;
        var knobs = new SimKnobs();

        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal)) return (null, $"unexpected argument: {arg}");
            var eq = arg.IndexOf('=');
            var name = eq < 0 ? arg[2..] : arg[2..eq];
            var value = eq < 0 ? null : arg[(eq + 1)..];
            if (value is null && name != "timestamp-tokens")
            {
                if (i + 1 >= args.Count) return (null, $"missing value for --{name}");
                value = args[++i];
            }

            string? error = null;
            switch (name)
            {
                case "host": host = value!; break;
                case "port": error = Int(name, value!, out port); break;
                case "models": models = Split(value!); break;
                case "loaded": loaded = Split(value!); break;
                case "first-token-delay-ms": error = Int(name, value!, out var v1); knobs = knobs with { FirstTokenDelayMs = v1 }; break;
                case "token-interval-ms": error = Int(name, value!, out var v2); knobs = knobs with { TokenIntervalMs = v2 }; break;
                case "tokens": error = Int(name, value!, out var v3); knobs = knobs with { Tokens = v3 }; break;
                case "load-delay-ms": error = Int(name, value!, out var v4); knobs = knobs with { LoadDelayMs = v4 }; break;
                case "context-length": error = Int(name, value!, out var v5); knobs = knobs with { ContextLength = v5 }; break;
                case "max-parallel": error = Int(name, value!, out var v6); knobs = knobs with { MaxParallel = v6 }; break;
                case "max-queue": error = Int(name, value!, out var v7); knobs = knobs with { MaxQueue = v7 }; break;
                case "embedding-dims": error = Int(name, value!, out var v8); knobs = knobs with { EmbeddingDims = v8 }; break;
                case "fault-after-tokens": error = Int(name, value!, out var v9); knobs = knobs with { FaultAfterTokens = v9 }; break;
                case "fault-status": error = Int(name, value!, out var v10); knobs = knobs with { FaultStatus = v10 }; break;
                case "fault-count": error = Int(name, value!, out var v11); knobs = knobs with { FaultCount = v11 }; break;
                case "fault-message": knobs = knobs with { FaultMessage = value! }; break;
                case "fault": error = Named(name, value!, ControlJson.Default.FaultMode, out var f); knobs = knobs with { Fault = f }; break;
                case "tool-calls": error = Named(name, value!, ControlJson.Default.ToolCallMode, out var t); knobs = knobs with { ToolCalls = t }; break;
                case "timestamp-tokens":
                    if (value is not null && !bool.TryParse(value, out var ts)) error = $"invalid value for --{name}: '{value}' (expected true or false)";
                    else knobs = knobs with { TimestampTokens = value is null || bool.Parse(value) };
                    break;
                default: return (null, $"unknown argument: --{name}");
            }
            if (error is not null) return (null, error);
        }

        if (ParseHost(host) is not { } address) return (null, $"invalid value for --host: '{host}' (expected an IP address or localhost)");
        if (port is < 0 or > 65535) return (null, $"invalid value for --port: '{port}' (expected 0-65535)");
        if (knobs.Validate() is { } bad) return (null, $"invalid value for --{Kebab(bad.Knob)}: {bad.Problem}");
        foreach (var m in models)
        {
            if (!ModelName.IsValid(m)) return (null, $"invalid value for --models: '{m}' is not a model name");
        }
        loaded ??= models;
        var held = models.Select(ModelName.Key).ToHashSet();
        foreach (var m in loaded)
        {
            if (!held.Contains(ModelName.Key(m))) return (null, $"invalid value for --loaded: '{m}' is not in --models");
        }

        return (new SimStartup(address, host, port, models, loaded, knobs), null);
    }

    private static string[] Split(string list) =>
        list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static string? Int(string name, string value, out int result) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out result)
            ? null
            : $"invalid value for --{name}: '{value}' (expected an integer)";

    // Goes through the same JSON converter as POST /_sim/config, so both accept the same names.
    private static string? Named<T>(string name, string value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> info, out T result)
        where T : struct, Enum
    {
        result = default;
        try
        {
            result = JsonSerializer.Deserialize(JsonSerializer.Serialize(value, ControlJson.Default.String), info);
            if (Enum.IsDefined(result)) return null;
        }
        catch (JsonException)
        {
        }
        var names = string.Join("|", Enum.GetValues<T>().Select(e => JsonSerializer.Serialize(e, info).Trim('"')));
        return $"invalid value for --{name}: '{value}' (expected {names})";
    }

    private static IPAddress? ParseHost(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback
        : IPAddress.TryParse(host, out var ip) ? ip
        : null;

    private static string Kebab(string camel)
    {
        var sb = new StringBuilder(camel.Length + 4);
        foreach (var c in camel)
        {
            if (char.IsUpper(c)) sb.Append('-').Append(char.ToLowerInvariant(c));
            else sb.Append(c);
        }
        return sb.ToString().TrimStart('-');
    }
}
