using LlmRouter.Streaming;

namespace LlmRouter.Backends.Ollama;

/// <summary>An Ollama answer body being read: one NDJSON line per chunk, parsed into <see cref="Current"/>.</summary>
internal sealed class OllamaGenerationStream(HttpResponseMessage response) : IGenerationStream
{
    // SocketsHttpHandler's content stream is ready once headers are in; reading it never blocks synchronously.
    private readonly NdjsonReader _reader = new(response.Content.ReadAsStream());
    private static readonly NdjsonReader.LineHandler<GenerationChunk> Parse = OllamaLineParser.Parse;

    public GenerationChunk Current { get; } = new();

    public bool NextReady => _reader.NextLineBuffered;

    public ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken) => _reader.ReadLineAsync(Parse, Current, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _reader.DisposeAsync();
        response.Dispose();
    }
}
