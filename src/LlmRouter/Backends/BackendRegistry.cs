using LlmRouter.Configuration;

namespace LlmRouter.Backends;

/// <summary>Maps a deployment's provider to the backend that speaks its protocol.</summary>
internal sealed class BackendRegistry(Ollama.OllamaBackend ollama)
{
    public IModelBackend For(Deployment deployment) => deployment.Provider switch
    {
        BackendProvider.Ollama => ollama,
        _ => throw new InvalidOperationException($"No backend for provider {deployment.Provider}"),
    };
}
