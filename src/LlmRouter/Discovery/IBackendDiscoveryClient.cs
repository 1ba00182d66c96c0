namespace LlmRouter.Discovery;

/// <summary>
/// The Ollama calls discovery and health checks make, behind one interface so tests can drive a backend's failures.
/// Every method throws on failure (<see cref="HttpRequestException"/>, <see cref="OperationCanceledException"/>,
/// <see cref="BackendAnswerException"/> for a non-2xx answer, <see cref="System.Text.Json.JsonException"/>); none is on the
/// request path, so exceptions cost nothing that matters.
/// </summary>
internal interface IBackendDiscoveryClient
{
    /// <summary><c>GET /api/tags</c>: the models the backend holds.</summary>
    Task<IReadOnlyList<HeldModel>> ListHeldAsync(Uri apiBase, CancellationToken cancellationToken);

    /// <summary><c>GET /api/ps</c>: the names of the models in memory.</summary>
    Task<IReadOnlyList<string>> ListLoadedAsync(Uri apiBase, CancellationToken cancellationToken);

    /// <summary><c>POST /api/show</c>: <c>model_info["&lt;arch&gt;.context_length"]</c>, null when the model does not say.</summary>
    Task<int?> GetContextLengthAsync(Uri apiBase, string model, CancellationToken cancellationToken);

    /// <summary><c>GET /</c> ("Ollama is running").</summary>
    Task PingAsync(Uri apiBase, CancellationToken cancellationToken);

    /// <summary>Asks for one token (<c>/api/generate</c>), or one embedding (<c>/api/embed</c>) for an embedding-only model.</summary>
    Task GenerateOneTokenAsync(Uri apiBase, string model, bool embeddingOnly, CancellationToken cancellationToken);
}

/// <summary>One <c>/api/tags</c> entry; <see cref="Version"/> changes when the model is pulled again or replaced.</summary>
internal sealed record HeldModel(string Name, string Version, bool EmbeddingOnly);

/// <summary>A backend answered with a non-success status.</summary>
internal sealed class BackendAnswerException(string message) : Exception(message);
