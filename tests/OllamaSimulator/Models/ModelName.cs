namespace OllamaSimulator.Models;

/// <summary>Ollama's name rules: <c>[host/][namespace/]model[:tag]</c>, tag <c>latest</c> when absent, matched case-insensitively.</summary>
internal static class ModelName
{
    private const string DefaultPrefix = "registry.ollama.ai/library/";

    public static bool IsValid(string? name) =>
        !string.IsNullOrWhiteSpace(name) && !name.Any(char.IsWhiteSpace) && !name.EndsWith(':') && !name.EndsWith('/');

    /// <summary>The name with its tag, e.g. <c>nomic-embed-text</c> → <c>nomic-embed-text:latest</c>.</summary>
    public static string WithTag(string name)
    {
        name = name.Trim();
        if (name.StartsWith(DefaultPrefix, StringComparison.OrdinalIgnoreCase)) name = name[DefaultPrefix.Length..];
        return name.LastIndexOf(':') > name.LastIndexOf('/') ? name : name + ":latest";
    }

    /// <summary>The key two names are compared by.</summary>
    public static string Key(string name) => WithTag(name).ToLowerInvariant();

    /// <summary>The fully qualified form Ollama puts in capability errors (<c>registry.ollama.ai/library/x:tag</c>).</summary>
    public static string Canonical(string name)
    {
        var tagged = WithTag(name);
        return tagged.Count(c => c == '/') switch
        {
            0 => DefaultPrefix + tagged,
            1 => "registry.ollama.ai/" + tagged,
            _ => tagged,
        };
    }

    /// <summary>The namespace OpenAI's <c>owned_by</c> reports: <c>library</c> unless the name has one.</summary>
    public static string Namespace(string name)
    {
        var parts = WithTag(name).Split('/');
        return parts.Length >= 2 ? parts[^2] : "library";
    }
}
