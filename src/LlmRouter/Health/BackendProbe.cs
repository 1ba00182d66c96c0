using LlmRouter.Configuration;

namespace LlmRouter.Health;

/// <summary>Asks each backend server <c>GET /</c> ("Ollama is running") with a short timeout, all at once.</summary>
internal sealed class BackendProbe(RouterConfig config, HttpMessageInvoker http)
{
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);

    public async Task<IReadOnlyList<BackendState>> ProbeAllAsync(CancellationToken cancellationToken)
    {
        var servers = config.Deployments.GroupBy(d => d.ApiBase);
        var probes = servers.Select(server => ProbeAsync(server.Key, server.Select(d => d.Id).ToArray(), cancellationToken));
        return await Task.WhenAll(probes);
    }

    private async Task<BackendState> ProbeAsync(Uri apiBase, string[] deployments, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ProbeTimeout);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, apiBase);
            using var response = await http.SendAsync(request, timeout.Token);
            return response.IsSuccessStatusCode
                ? new BackendState(apiBase.AbsoluteUri, "healthy", deployments, null)
                : new BackendState(apiBase.AbsoluteUri, "unhealthy", deployments, $"GET / answered {(int)response.StatusCode}");
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
        {
            return new BackendState(apiBase.AbsoluteUri, "unreachable", deployments, e is OperationCanceledException ? "timed out" : e.Message);
        }
    }
}
