using LlmRouter.Configuration;

namespace LlmRouter.Routing;

/// <summary>Logical model names ("chat", "code") and the deployments that serve each.</summary>
internal sealed class ModelCatalog
{
    private readonly Dictionary<string, Deployment[]> _groups;

    public ModelCatalog(RouterConfig config)
    {
        _groups = config.Deployments
            .GroupBy(d => d.ModelName, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.ToArray(), StringComparer.Ordinal);
        GroupNames = config.ModelGroups;
    }

    public IReadOnlyList<string> GroupNames { get; }

    /// <param name="deployments">The catalog's own array, shared by every request (routing hands it on uncopied): read it, never write it.</param>
    public bool TryGetGroup(string name, out Deployment[] deployments) => _groups.TryGetValue(name, out deployments!);
}
