using LlmRouter.Configuration;

namespace LlmRouter.Routing;

/// <summary>What the router knows about each deployment's backend right now: cheap reads, no I/O.</summary>
internal interface IDeploymentAvailability
{
    /// <summary>The backend holds the model and passes its health checks.</summary>
    bool IsRoutable(Deployment deployment);

    /// <summary>The model is loaded in memory (no cold load), preferred when otherwise equal.</summary>
    bool IsWarm(Deployment deployment);

    /// <summary><c>max_input_tokens</c> from config, else what the backend reports; null if unknown.</summary>
    int? ContextLength(Deployment deployment);
}

/// <summary>Trusts the config: every deployment routable, none known warm.</summary>
internal sealed class ConfiguredAvailability : IDeploymentAvailability
{
    public bool IsRoutable(Deployment deployment) => true;
    public bool IsWarm(Deployment deployment) => false;
    public int? ContextLength(Deployment deployment) => deployment.MaxInputTokens;
}
