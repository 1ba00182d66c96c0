namespace LlmRouter.Discovery;

/// <summary>
/// Ollama's model-name equality: <c>[host/][namespace/]model[:tag]</c>, compared case-insensitively, with the default host
/// (<c>registry.ollama.ai</c>), namespace (<c>library</c>) and tag (<c>latest</c>) implied when absent.
/// </summary>
internal static class OllamaModelName
{
    private const string DefaultHost = "registry.ollama.ai/";
    private const string DefaultNamespace = "library/";
    private const string DefaultTag = ":latest";

    /// <summary>
    /// The key two names are compared by, in Ollama's shortest display form: <c>Llama3</c>, <c>library/llama3</c> and
    /// <c>registry.ollama.ai/library/llama3:latest</c> all give <c>llama3:latest</c>.
    /// </summary>
    public static string Normalize(string name)
    {
        var key = name.Trim().ToLowerInvariant();
        if (key.StartsWith(DefaultHost, StringComparison.Ordinal)) key = key[DefaultHost.Length..];
        // Only a bare "library/model" drops its namespace; "library/x/y" would be a host named "library".
        if (key.StartsWith(DefaultNamespace, StringComparison.Ordinal) && key.IndexOf('/', DefaultNamespace.Length) < 0)
            key = key[DefaultNamespace.Length..];
        // A colon before the last slash is a host's port ("myhost:5000/ns/model"), not a tag.
        return key.LastIndexOf(':') > key.LastIndexOf('/') ? key : key + DefaultTag;
    }

    public static bool AreSame(string a, string b) => string.Equals(Normalize(a), Normalize(b), StringComparison.Ordinal);
}
