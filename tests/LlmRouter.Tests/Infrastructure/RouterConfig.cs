using System.Globalization;
using System.Text;

namespace LlmRouter.Tests.Infrastructure;

/// <summary>One <c>model_list</c> entry.</summary>
public sealed record Deployment(string ModelName, string Model, string ApiBase, string? Id = null);

/// <summary>Builds the LiteLLM-format YAML the router reads.</summary>
public sealed record RouterConfig
{
    public IReadOnlyList<Deployment> Deployments { get; init; } = [];
    public string? MasterKey { get; init; }
    public int? MaxRequestSizeMb { get; init; }
    public int? DrainTimeoutSeconds { get; init; }
    public bool? AllowUnauthenticated { get; init; }

    public string ToYaml()
    {
        var yaml = new StringBuilder();
        yaml.AppendLine("model_list:");
        foreach (var d in Deployments)
        {
            yaml.AppendLine(CultureInfo.InvariantCulture, $"  - model_name: {d.ModelName}");
            yaml.AppendLine(CultureInfo.InvariantCulture, $"    litellm_params: {{ model: {d.Model}, api_base: {d.ApiBase} }}");
            if (d.Id is not null)
            {
                yaml.AppendLine(CultureInfo.InvariantCulture, $"    model_info: {{ id: {d.Id} }}");
            }
        }

        if (MasterKey is not null || MaxRequestSizeMb is not null || DrainTimeoutSeconds is not null || AllowUnauthenticated is not null)
        {
            yaml.AppendLine("general_settings:");
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

        return yaml.ToString();
    }
}
