using LlmRouter.Configuration;

namespace LlmRouter.Routing;

/// <summary>What the router knows about each deployment's backend right now: cheap reads, no I/O.</summary>
internal interface IDeploymentAvailability
{
    /// <summary>The backend holds the model (per its last /api/tags; trusted from config before the first poll).</summary>
    bool IsHeld(Deployment deployment);

    /// <summary>The backend holds the model and passes its health checks.</summary>
    bool IsRoutable(Deployment deployment);

    /// <summary>The model is loaded in memory (no cold load), preferred when otherwise equal.</summary>
    bool IsWarm(Deployment deployment);

    /// <summary><c>max_input_tokens</c> from config, else what the backend reports; null if unknown.</summary>
    int? ContextLength(Deployment deployment);

    /// <summary>
    /// The backend answered that it lacks the deployment's model (Ollama's 404): what it holds is asked again now, not at
    /// the next poll, so requests stop going there. Returns at once.
    /// </summary>
    void ModelMissing(Deployment deployment);
}
