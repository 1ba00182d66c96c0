using System.Text.Json;
using LlmRouter.Auth;
using LlmRouter.Configuration;
using LlmRouter.LiveState;
using LlmRouter.OpenAi;
using LlmRouter.Routing;

namespace LlmRouter.Completions;

/// <summary>Turns a parsed client request and its caller into what the router needs: fallbacks, estimates, reservations.</summary>
internal sealed class CallFactory(RouterSettings settings, GeneralSettings general, ModelCatalog catalog, TimeProvider time)
{
    /// <summary>The answer cap sent upstream: the client's, else a default when the key's quota needs a bound to reserve.</summary>
    public long? EffectiveMaxTokens(ClientRequest request, RequestCaller caller) =>
        request.MaxTokens ?? (caller.Key is { MaxTokens: not null } or { TpmLimit: not null } or { MaxBudget: not null } ? general.DefaultMaxTokens : null);

    public RoutedCall Create(HttpContext context, ClientRequest request, JsonElement root, RequestCaller caller, long? maxTokens)
    {
        var prompt = PromptEstimate.Tokens(root);
        return new RoutedCall
        {
            RequestId = context.TraceIdentifier,
            Model = request.Model,
            Stream = request.Stream,
            Fallbacks = Fallbacks(request.Model, root),
            EstimatedPromptTokens = prompt,
            Key = caller.Key,
            KeyAdmission = caller.Key is { } key
                ? KeyLimits.Admission(key, prompt + (maxTokens ?? 0), time.GetUtcNow(), MostItCanCost(request.Model, prompt, maxTokens ?? 0))
                : null,
        };
    }

    /// <summary>The dearest deployment's price for the prompt and a full answer, in micro-units: what a budget must cover.</summary>
    private long MostItCanCost(string model, int prompt, long maxTokens)
    {
        if (!catalog.TryGetGroup(model, out var deployments)) return 0;
        var input = deployments.Max(d => d.InputCostPerToken ?? 0);
        var output = deployments.Max(d => d.OutputCostPerToken ?? 0);
        return (long)Math.Ceiling((input * prompt + output * maxTokens) * KeyLimits.MicrosPerUnit);
    }

    /// <summary>LiteLLM's per-request <c>fallbacks</c> and <c>disable_fallbacks</c>, else the configured chain.</summary>
    private IReadOnlyList<string> Fallbacks(string model, JsonElement root)
    {
        if (Fields.Bool(root, "disable_fallbacks") == true) return [];
        if (Fields.Array(root, "fallbacks") is { } requested)
        {
            var names = new List<string>();
            foreach (var item in requested.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.String) throw Fields.WrongType("fallbacks", "an array of model names", item);
                names.Add(item.GetString()!);
            }
            return names;
        }
        return settings.Fallbacks.TryGetValue(model, out var configured) ? configured : [];
    }
}
