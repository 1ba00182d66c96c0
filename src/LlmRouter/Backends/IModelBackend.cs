using LlmRouter.Configuration;

namespace LlmRouter.Backends;

/// <summary>
/// One provider's wire protocol (Ollama native today; an OpenAI-compatible provider fits behind the same shape).
/// Failures before the first answer byte are thrown as <see cref="BackendFailureException"/>.
/// </summary>
internal interface IModelBackend
{
    /// <summary>Starts a chat or completion and returns once the first chunk has been read.</summary>
    Task<IGenerationStream> StartGenerationAsync(Deployment deployment, PreparedRequest request, CancellationToken cancellationToken);

    Task<EmbeddingResult> EmbedAsync(Deployment deployment, PreparedRequest request, CancellationToken cancellationToken);
}

/// <summary>An answer being read. <see cref="Current"/> holds the chunk last read; the first is read already.</summary>
internal interface IGenerationStream : IAsyncDisposable
{
    GenerationChunk Current { get; }

    /// <summary>Whether <see cref="MoveNextAsync"/> will not wait for the backend: the next chunk, or the end, is in already.</summary>
    bool NextReady { get; }

    /// <summary>Reads the next chunk into <see cref="Current"/>; false at the end of the body.</summary>
    ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken);
}

internal sealed record EmbeddingResult(IReadOnlyList<ReadOnlyMemory<byte>> VectorsJson, int PromptTokens);
