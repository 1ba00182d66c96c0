using System.Text.Json;
using LlmRouter.Configuration;

namespace LlmRouter.Keys;

/// <summary>Which API a request came in on: our <c>/admin/keys</c> or LiteLLM's <c>/key/*</c> (whose field names differ).</summary>
internal enum KeyApiStyle
{
    Admin,
    LiteLlm,
}

/// <summary>
/// Reads a key's settings from a request body and validates them: every field is known and well-typed, no limit is
/// negative, every model is a <c>model_name</c> from config. Anything else is a 400 naming the field, because a
/// silently ignored limit is worse than a rejected request.
/// </summary>
internal sealed class KeyRequestReader(RouterConfig config, TimeProvider time)
{
    /// <summary>LiteLLM fields this router does not implement; named in the 400 so a script's author knows why.</summary>
    private static readonly HashSet<string> UnsupportedLiteLlmFields =
    [
        "user_id", "team_id", "organization_id", "project_id", "agent_id", "budget_id", "spend", "soft_budget", "tags",
        "aliases", "config", "permissions", "model_max_budget", "model_rpm_limit", "model_tpm_limit", "guardrails", "policies",
        "prompts", "allowed_cache_controls", "enforced_params", "allowed_routes", "allowed_passthrough_routes", "key_type",
        "auto_rotate", "rotation_interval", "send_invite_email", "object_permission", "rpm_limit_type", "tpm_limit_type",
        "router_settings", "access_group_ids", "allowed_vector_store_indexes", "temp_budget_increase", "temp_budget_expiry",
        "new_key", "new_master_key",
    ];

    private readonly HashSet<string> _models = [.. config.ModelGroups];

    /// <summary>
    /// Reads <paramref name="body"/>. <paramref name="extra"/> sees each field first and returns true when it is one of the
    /// endpoint's own (e.g. <c>key</c> on /key/update).
    /// </summary>
    public KeyChanges Read(JsonElement body, KeyApiStyle style, Func<string, JsonElement, bool>? extra = null)
    {
        var changes = new KeyChanges { AliasField = style == KeyApiStyle.Admin ? "alias" : "key_alias" };
        var sawExpiresAt = false;
        var sawDuration = false;
        foreach (var property in body.EnumerateObject())
        {
            var (name, value) = (property.Name, property.Value);
            if (extra?.Invoke(name, value) == true) continue;
            switch (name)
            {
                case "alias" when style == KeyApiStyle.Admin:
                case "key_alias" when style == KeyApiStyle.LiteLlm:
                    changes.Alias = JsonFields.OptionalString(value, name);
                    break;
                case "metadata":
                    changes.Metadata = JsonFields.Object(value, name);
                    break;
                case "models":
                    changes.Models = new(true, ReadModels(value, name));
                    break;
                case "rpm_limit":
                    changes.RpmLimit = JsonFields.NonNegativeLong(value, name);
                    break;
                case "tpm_limit":
                    changes.TpmLimit = JsonFields.NonNegativeLong(value, name);
                    break;
                case "max_parallel_requests":
                    changes.MaxParallelRequests = JsonFields.NonNegativeInt(value, name);
                    break;
                case "max_tokens":
                    changes.MaxTokens = JsonFields.NonNegativeLong(value, name);
                    break;
                case "budget_duration":
                    changes.BudgetDuration = JsonFields.Duration(value, name);
                    break;
                case "max_budget":
                    changes.MaxBudget = JsonFields.NonNegativeDecimal(value, name);
                    break;
                case "expires_at" when style == KeyApiStyle.Admin:
                    changes.ExpiresAt = JsonFields.Timestamp(value, name);
                    sawExpiresAt = true;
                    break;
                case "duration":
                    // LiteLLM's key lifetime, counted from now; null = never expires.
                    changes.ExpiresAt = JsonFields.Duration(value, name) is { } lifetime ? time.GetUtcNow() + lifetime : null;
                    sawDuration = true;
                    break;
                case "blocked":
                    changes.Blocked = JsonFields.Bool(value, name);
                    break;
                case "is_admin":
                    changes.IsAdmin = JsonFields.Bool(value, name);
                    break;
                default:
                    throw UnknownField(name, style);
            }
        }
        if (sawExpiresAt && sawDuration) throw JsonFields.Invalid("duration", "Send either 'expires_at' or 'duration', not both.");
        return changes;
    }

    public static Errors.ApiErrorException UnknownField(string name, KeyApiStyle style) =>
        style == KeyApiStyle.LiteLlm && UnsupportedLiteLlmFields.Contains(name)
            ? JsonFields.Invalid(name, $"Field '{name}' is not supported by LlmRouter.")
            : JsonFields.Invalid(name, $"Unknown field '{name}'.");

    private IReadOnlyList<string> ReadModels(JsonElement value, string field)
    {
        if (value.ValueKind == JsonValueKind.Null) return [];
        if (value.ValueKind != JsonValueKind.Array) throw JsonFields.Invalid(field, $"'{field}' must be an array of model names, or null.");
        var models = new List<string>();
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String) throw JsonFields.Invalid(field, $"'{field}' must contain only strings.");
            var model = JsonFields.RequiredString(item, field);
            if (!_models.Contains(model))
                throw JsonFields.Invalid(field, $"Unknown model '{model}' in '{field}'; the configured models are: {string.Join(", ", config.ModelGroups)}.");
            if (!models.Contains(model)) models.Add(model);
        }
        return models;
    }
}
