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
    public RoutedCall Create(HttpContext context, ClientRequest request, JsonElement root, RequestCaller caller)
    {
        var prompt = PromptEstimate.Tokens(root);
        var maxTokens = MaxTokens(request, caller, prompt);
        return new RoutedCall
        {
            RequestId = context.TraceIdentifier,
            Model = request.Model,
            Stream = request.Stream,
            Wait = request.Stream ? AttemptWait.FirstChunk
                : request.Operation == Backends.Operation.Embedding ? AttemptWait.Reply : AttemptWait.SelfTimed,
            Fallbacks = Fallbacks(request.Model, root),
            EstimatedPromptTokens = prompt,
            MaxTokens = maxTokens,
            Key = caller.Key,
            KeyAdmission = caller.Key is { } key
                ? KeyLimits.Admission(key, prompt + (maxTokens ?? 0), time.GetUtcNow(), MostItCanCost(request.Model, prompt, maxTokens ?? 0))
                : null,
        };
    }

    /// <summary>
    /// The answer cap sent upstream: the client's; else, for a key whose token limits need a bound to reserve,
    /// <c>default_max_tokens</c>, but never more than the key's quota or tpm leaves beside the prompt (a small quota
    /// would otherwise refuse every request that does not send max_tokens).
    /// </summary>
    private long? MaxTokens(ClientRequest request, RequestCaller caller, int prompt)
    {
        if (request.MaxTokens is { } asked) return asked;
        // Embeddings produce no answer tokens: nothing to cap or reserve beyond the input.
        if (request.Operation == Backends.Operation.Embedding) return null;
        if (caller.Key is not { } key || key is { MaxTokens: null, TpmLimit: null, MaxBudget: null }) return null;
        long cap = general.DefaultMaxTokens;
        if (key.MaxTokens is { } quota) cap = Math.Min(cap, quota - prompt);
        if (key.TpmLimit is { } tpm) cap = Math.Min(cap, tpm - prompt);
        return Math.Max(1, cap);
    }

    /// <summary>The dearest deployment's price for the prompt and a full answer, in micro-units: what a budget must cover.</summary>
    private long MostItCanCost(string model, int prompt, long maxTokens)
    {
        if (!catalog.TryGetGroup(model, out var deployments)) return 0;
        var input = deployments.Max(d => d.InputCostPerToken ?? 0);
        var output = deployments.Max(d => d.OutputCostPerToken ?? 0);
        // Prices are the operator's, so the product may be past what Redis counts exactly; any cost past every budget
        // (Keys.JsonFields.MaxBudget) is refused alike.
        var micros = Math.Ceiling((input * prompt + output * maxTokens) * KeyLimits.MicrosPerUnit);
        return micros >= Keys.JsonFields.MaxCount ? Keys.JsonFields.MaxCount : (long)micros;
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
