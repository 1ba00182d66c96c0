using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace LlmRouter.Tests.Infrastructure;

/// <summary>Typed client for the simulator's <c>/_sim/*</c> control API.</summary>
public sealed class SimulatorClient(HttpClient http)
{
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public async Task<SimConfig> GetConfigAsync() =>
        (await http.GetFromJsonAsync<SimConfig>("/_sim/config", Json))!;

    /// <summary>Changes only the knobs set in <paramref name="config"/>.</summary>
    public Task ConfigureAsync(SimConfig config) => PostAsync("/_sim/config", config);

    public Task SetModelsAsync(IEnumerable<string> models, IEnumerable<string>? loaded = null) =>
        PostAsync("/_sim/models", new { models, loaded = loaded ?? [] });

    public Task HoldAsync() => PostAsync("/_sim/hold", null);

    public Task ReleaseAsync() => PostAsync("/_sim/release", null);

    /// <summary>Clears the records and restores the knobs given on the command line.</summary>
    public Task ResetAsync() => PostAsync("/_sim/reset", null);

    public async Task<SimStats> GetStatsAsync() =>
        (await http.GetFromJsonAsync<SimStats>("/_sim/stats", Json))!;

    public async Task<IReadOnlyList<SimRequest>> GetRequestsAsync() =>
        (await http.GetFromJsonAsync<List<SimRequest>>("/_sim/requests", Json))!;

    private async Task PostAsync(string path, object? body)
    {
        using var content = body is null ? null : JsonContent.Create(body, body.GetType(), options: Json);
        using var response = await http.PostAsync(path, content);
        if (!response.IsSuccessStatusCode)
        {
            var text = await response.Content.ReadAsStringAsync();
            throw new InvalidOperationException($"POST {path} on the simulator returned {(int)response.StatusCode}: {text}");
        }
    }
}
