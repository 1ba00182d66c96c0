using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;

namespace LlmRouter.Backends;

internal enum Operation
{
    Chat,
    Completion,
    Embedding,
}

/// <summary>
/// A client request translated once into the backend's body, minus the model name: the bytes after
/// <c>{"model":""</c>. Each attempt (possibly on another deployment with another model name) only prepends the name.
/// </summary>
internal sealed class PreparedRequest(Operation operation, byte[] tail)
{
    public Operation Operation { get; } = operation;

    public HttpContent ContentFor(string model) => new ModelPrefixedContent(model, tail);

    private sealed class ModelPrefixedContent : HttpContent
    {
        /// <summary><c>{"model":"…"</c> per backend model name: a handful in any config, built once each.</summary>
        private static readonly ConcurrentDictionary<string, byte[]> Prefixes = new(StringComparer.Ordinal);

        private readonly byte[] _prefix;
        private readonly byte[] _tail;

        public ModelPrefixedContent(string model, byte[] tail)
        {
            _prefix = Prefixes.TryGetValue(model, out var prefix) ? prefix
                : Prefixes.GetOrAdd(model, m => Encoding.UTF8.GetBytes("{\"model\":" + JsonSerializer.Serialize(m, PrefixJsonContext.Default.String)));
            _tail = tail;
            // Unparsed: the header is only ever written out, so a MediaTypeHeaderValue would be built for nothing.
            Headers.TryAddWithoutValidation("Content-Type", "application/json");
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await stream.WriteAsync(_prefix, cancellationToken);
            await stream.WriteAsync(_tail, cancellationToken);
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override bool TryComputeLength(out long length)
        {
            length = _prefix.Length + _tail.Length;
            return true;
        }
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class PrefixJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
