using System.Text.Json.Serialization;
using LlmRouter.Auth;
using LlmRouter.Errors;
using LlmRouter.Routing;

namespace LlmRouter.Models;

/// <summary><c>GET /v1/models</c>: the logical model names, never <c>"data": null</c>.</summary>
internal static class ModelsApi
{
    private static readonly long Created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    public static RouteGroupBuilder MapModelsApi(this RouteGroupBuilder group, string nameSuffix)
    {
        group.MapGet("/models", (HttpContext context, ModelCatalog catalog) =>
            {
                // A key sees only the models it may use.
                var caller = RequestCaller.Of(context);
                var visible = catalog.GroupNames.Where(name => caller.Key?.MayUse(name) ?? true).Select(ToModel).ToArray();
                return TypedResults.Json(new ModelList(visible), ModelsJsonContext.Default.ModelList);
            })
            .WithName("ListModels" + nameSuffix)
            .WithSummary("Lists the logical model names this router serves.");
        group.MapGet("/models/{**id}", (string id, HttpContext context, ModelCatalog catalog) =>
                catalog.TryGetGroup(id, out _) && (RequestCaller.Of(context).Key?.MayUse(id) ?? true)
                    ? (IResult)TypedResults.Json(ToModel(id), ModelsJsonContext.Default.ModelInfo)
                    : ErrorResponses.Result(ApiError.ModelNotFound(id)))
            .WithName("GetModel" + nameSuffix)
            .WithSummary("One logical model by name.");
        return group;
    }

    private static ModelInfo ToModel(string name) => new(name, "model", Created, "llmrouter");
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
