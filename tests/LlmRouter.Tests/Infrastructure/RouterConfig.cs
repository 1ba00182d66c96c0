using System.Globalization;
using System.Text;

namespace LlmRouter.Tests.Infrastructure;

/// <summary>One <c>model_list</c> entry.</summary>
public sealed record Deployment(string ModelName, string Model, string ApiBase, string? Id = null)
{
    /// <summary>Extra <c>litellm_params</c>, as YAML flow entries (e.g. <c>max_parallel_requests: 1</c>).</summary>
    public string? Params { get; init; }
}

/// <summary>Builds the LiteLLM-format YAML the router reads.</summary>
public sealed record RouterConfig
{
    public IReadOnlyList<Deployment> Deployments { get; init; } = [];
    public string? MasterKey { get; init; }
    public int? MaxRequestSizeMb { get; init; }
    public int? DrainTimeoutSeconds { get; init; }
    public bool? AllowUnauthenticated { get; init; }
    /// <summary>Extra <c>general_settings</c> entries (key → YAML value).</summary>
    public IReadOnlyDictionary<string, string> General { get; init; } = new Dictionary<string, string>();
    /// <summary><c>router_settings</c> entries (key → YAML value).</summary>
    public IReadOnlyDictionary<string, string> Router { get; init; } = new Dictionary<string, string>();

    public string ToYaml()
    {
        var yaml = new StringBuilder();
        yaml.AppendLine("model_list:");
        foreach (var d in Deployments)
        {
            yaml.AppendLine(CultureInfo.InvariantCulture, $"  - model_name: {d.ModelName}");
            var extra = d.Params is null ? "" : ", " + d.Params;
            yaml.AppendLine(CultureInfo.InvariantCulture, $"    litellm_params: {{ model: {d.Model}, api_base: {d.ApiBase}{extra} }}");
            if (d.Id is not null)
            {
                yaml.AppendLine(CultureInfo.InvariantCulture, $"    model_info: {{ id: {d.Id} }}");
            }
        }

        if (MasterKey is not null || MaxRequestSizeMb is not null || DrainTimeoutSeconds is not null || AllowUnauthenticated is not null || General.Count > 0)
        {
            yaml.AppendLine("general_settings:");
            foreach (var (key, value) in General)
            {
                yaml.AppendLine(CultureInfo.InvariantCulture, $"  {key}: {value}");
            }

            if (MasterKey is not null)
            {
                yaml.AppendLine(CultureInfo.InvariantCulture, $"  master_key: {MasterKey}");
            }

            if (MaxRequestSizeMb is not null)
            {
                yaml.AppendLine(CultureInfo.InvariantCulture, $"  max_request_size_mb: {MaxRequestSizeMb}");
            }

            if (DrainTimeoutSeconds is not null)
            {
                yaml.AppendLine(CultureInfo.InvariantCulture, $"  drain_timeout: {DrainTimeoutSeconds}");
            }

            if (AllowUnauthenticated is not null)
            {
                yaml.AppendLine(CultureInfo.InvariantCulture, $"  allow_unauthenticated: {(AllowUnauthenticated.Value ? "true" : "false")}");
            }
        }

        if (Router.Count > 0)
        {
            yaml.AppendLine("router_settings:");
            foreach (var (key, value) in Router)
            {
                yaml.AppendLine(CultureInfo.InvariantCulture, $"  {key}: {value}");
            }
        }

        return yaml.ToString();
    }
}
