using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace LlmRouter.Configuration;

/// <summary>
/// A YAML mapping read with its dotted path, so every error and warning names the exact key.
/// Keys read through it are remembered; the rest are reported as unknown.
/// </summary>
internal sealed class YamlSection(string file, string path, YamlMappingNode? node, Func<string, string?> env)
{
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);

    public string Path => path;

    public ConfigException Error(string key, string problem) => new($"{file}: {Join(key)}: {problem}");

    public string Join(string key) => path.Length == 0 ? key : $"{path}.{key}";

    /// <summary>A scalar value with <c>os.environ/NAME</c> resolved; an unset variable counts as absent.</summary>
    public string? String(string key)
    {
        var value = Node(key);
        if (value is null) return null;
        if (value is not YamlScalarNode scalar) throw Error(key, "expected a single value");
        var text = scalar.Value;
        if (string.IsNullOrEmpty(text) || (scalar.Style == YamlDotNet.Core.ScalarStyle.Plain && text is "~" or "null")) return null;
        const string EnvPrefix = "os.environ/";
        if (text.StartsWith(EnvPrefix, StringComparison.Ordinal))
        {
            var resolved = env(text[EnvPrefix.Length..]);
            return string.IsNullOrEmpty(resolved) ? null : resolved;
        }
        return text;
    }

    public string RequiredString(string key) => String(key) ?? throw Error(key, "missing");

    public int? Int(string key, int min = 0)
    {
        var text = String(key);
        if (text is null) return null;
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
            throw Error(key, $"'{text}' is not an integer");
        if (value < min) throw Error(key, $"must be at least {min}");
        return value;
    }

    public decimal? Decimal(string key)
    {
        var text = String(key);
        if (text is null) return null;
        if (!decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value < 0)
            throw Error(key, $"'{text}' is not a non-negative number");
        return value;
    }

    public double? Number(string key, double min = 0)
    {
        var text = String(key);
        if (text is null) return null;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
            throw Error(key, $"'{text}' is not a number");
        if (value < min) throw Error(key, $"must be at least {min.ToString(CultureInfo.InvariantCulture)}");
        return value;
    }

    public bool? Bool(string key)
    {
        var text = String(key);
        if (text is null) return null;
        return text.ToLowerInvariant() switch
        {
            "true" or "yes" or "on" => true,
            "false" or "no" or "off" => false,
            _ => throw Error(key, $"'{text}' is not true or false"),
        };
    }

    /// <summary>
    /// The most seconds any time setting takes: a day. Timeouts are added to the clock and handed to timers (which
    /// stop at about 49 days); no wait, window or interval of a router needs more.
    /// </summary>
    public const double MaxSeconds = 86_400;

    /// <summary>Seconds as a number (LiteLLM's convention), must be positive and at most <see cref="MaxSeconds"/>.</summary>
    public TimeSpan? Seconds(string key)
    {
        var value = Number(key, 0);
        if (value is null) return null;
        if (value <= 0) throw Error(key, "must be greater than 0");
        if (value > MaxSeconds) throw Error(key, $"must be at most {MaxSeconds:0} (seconds: one day)");
        return TimeSpan.FromSeconds(value.Value);
    }

    public YamlSection Section(string key)
    {
        var value = Node(key);
        return value switch
        {
            null => new YamlSection(file, Join(key), null, env),
            YamlMappingNode map => new YamlSection(file, Join(key), map, env),
            YamlScalarNode { Value: null or "" or "~" or "null" } => new YamlSection(file, Join(key), null, env),
            _ => throw Error(key, "expected a mapping"),
        };
    }

    public IReadOnlyList<YamlSection> List(string key)
    {
        var value = Node(key);
        if (value is null or YamlScalarNode { Value: null or "" or "~" or "null" }) return [];
        if (value is not YamlSequenceNode sequence) throw Error(key, "expected a list");
        var items = new List<YamlSection>(sequence.Children.Count);
        for (var i = 0; i < sequence.Children.Count; i++)
        {
            if (sequence.Children[i] is not YamlMappingNode map) throw Error($"{key}[{i}]", "expected a mapping");
            items.Add(new YamlSection(file, $"{Join(key)}[{i}]", map, env));
        }
        return items;
    }

    /// <summary>LiteLLM's fallback form: a list of one-key mappings, <c>[{chat-large: [chat]}]</c>.</summary>
    public Dictionary<string, IReadOnlyList<string>> GroupLists(string key)
    {
        var result = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        var value = Node(key);
        if (value is null or YamlScalarNode { Value: null or "" or "~" or "null" }) return result;
        if (value is not YamlSequenceNode sequence) throw Error(key, "expected a list such as [{chat-large: [chat]}]");
        for (var i = 0; i < sequence.Children.Count; i++)
        {
            if (sequence.Children[i] is not YamlMappingNode map) throw Error($"{key}[{i}]", "expected a mapping such as {chat-large: [chat]}");
            foreach (var (from, to) in map.Children)
            {
                var name = (from as YamlScalarNode)?.Value ?? throw Error($"{key}[{i}]", "expected a model name as the key");
                IReadOnlyList<string> targets = to switch
                {
                    YamlSequenceNode list => list.Children.Select(c => (c as YamlScalarNode)?.Value ?? throw Error($"{key}[{i}].{name}", "expected model names")).ToArray(),
                    YamlScalarNode single when !string.IsNullOrEmpty(single.Value) => [single.Value],
                    _ => throw Error($"{key}[{i}].{name}", "expected a list of model names"),
                };
                result[name] = targets;
            }
        }
        return result;
    }

    /// <summary>Every key of the mapping, in the file's order.</summary>
    public IEnumerable<string> Keys() =>
        node is null ? [] : node.Children.Keys.Select(key => (key as YamlScalarNode)?.Value ?? key.ToString());

    /// <summary>Keys present in the file that nothing read: worth a warning, not a refusal.</summary>
    public IEnumerable<string> UnknownKeys()
    {
        if (node is null) yield break;
        foreach (var key in node.Children.Keys)
        {
            var name = (key as YamlScalarNode)?.Value ?? key.ToString();
            if (!_read.Contains(name)) yield return Join(name);
        }
    }

    private YamlNode? Node(string key)
    {
        _read.Add(key);
        if (node is null) return null;
        return node.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;
    }
}
