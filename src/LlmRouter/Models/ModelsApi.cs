using System.Text.Json.Serialization;
using LlmRouter.Auth;
using LlmRouter.Errors;
using LlmRouter.Routing;

namespace LlmRouter.Models;

/// <summary>
/// <c>GET /v1/models</c>: the logical model names, never <c>"data": null</c>; only those some backend holds (per its
/// last <c>/api/tags</c>, the config trusted before the first poll), so a client such as Open WebUI does not offer a
/// model every request to which would get 404.
/// </summary>
internal static class ModelsApi
{
    private static readonly long Created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    public static RouteGroupBuilder MapModelsApi(this RouteGroupBuilder group, string nameSuffix)
    {
        group.MapGet("/models", (HttpContext context, ModelCatalog catalog, IDeploymentAvailability availability) =>
            {
                // A key sees only the models it may use.
                var caller = RequestCaller.Of(context);
                var visible = catalog.GroupNames.Where(name => (caller.Key?.MayUse(name) ?? true) && Held(catalog, availability, name))
                    .Select(ToModel).ToArray();
                return TypedResults.Json(new ModelList(visible), ModelsJsonContext.Default.ModelList);
            })
            .WithName("ListModels" + nameSuffix)
            .WithSummary("Lists the logical model names this router serves.");
        group.MapGet("/models/{**id}", (string id, HttpContext context, ModelCatalog catalog, IDeploymentAvailability availability) =>
            {
                var name = ModelName(context, id);
                return Held(catalog, availability, name) && (RequestCaller.Of(context).Key?.MayUse(name) ?? true)
                    ? (IResult)TypedResults.Json(ToModel(name), ModelsJsonContext.Default.ModelInfo)
                    : ErrorResponses.Result(ApiError.ModelNotFound(name));
            })
            .WithName("GetModel" + nameSuffix)
            .WithSummary("One logical model by name.");
        return group;
    }

    private static ModelInfo ToModel(string name) => new(name, "model", Created, "llmrouter");

    private static bool Held(ModelCatalog catalog, IDeploymentAvailability availability, string name) =>
        catalog.TryGetGroup(name, out var deployments) && deployments.Any(availability.IsHeld);

    /// <summary>
    /// The model name as the client wrote it. The OpenAI SDKs escape a name's slash (<c>org/chat</c> as
    /// <c>org%2Fchat</c>), and routing decodes every escape of a path but that one: so the raw path is decoded once.
    /// </summary>
    private static string ModelName(HttpContext context, string routed)
    {
        var raw = context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget;
        if (raw is null || !raw.Contains('%', StringComparison.Ordinal)) return routed;
        var query = raw.IndexOf('?', StringComparison.Ordinal);
        if (query >= 0) raw = raw[..query];
        const string Segment = "/models/";
        var at = raw.IndexOf(Segment, StringComparison.Ordinal);
        return at < 0 ? routed : Uri.UnescapeDataString(raw[(at + Segment.Length)..]);
    }
}

internal sealed record ModelList([property: JsonPropertyName("data")] IReadOnlyList<ModelInfo> Data)
{
    [JsonPropertyName("object"), JsonPropertyOrder(-1)]
    public string Object => "list";
}

internal sealed record ModelInfo(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("object")] string Object,
    [property: JsonPropertyName("created")] long Created,
    [property: JsonPropertyName("owned_by")] string OwnedBy);

[JsonSerializable(typeof(ModelList))]
[JsonSerializable(typeof(ModelInfo))]
internal sealed partial class ModelsJsonContext : JsonSerializerContext;
