using System.Text;
using LlmRouter.Backends.Ollama;
using LlmRouter.Configuration;
using LlmRouter.OpenAi;
using LlmRouter.Streaming;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace LlmRouter.Tests.Unit;

/// <summary>
/// What a streamed answer's client is sent, write by write: a chunk that comes alone goes out at once, and chunks the
/// backend sent together (its last token and its end, or a backlog) go out in one write rather than one each.
/// </summary>
public sealed class GenerationRelayTests
{
    private static readonly Deployment Deployment = new()
    {
        Id = "dep-1", ModelName = "chat", Provider = BackendProvider.Ollama, Model = "llama3.1:8b", ApiBase = new Uri("http://a:11434/"),
    };

    [Fact]
    public async Task Relay_ChunksArrivingApart_EachIsWrittenAsItComes()
    {
        var writes = await RelayAsync([Token("a"), Token("b"), Token("c"), Done]);

        Assert.Equal(4, writes.Count);
        Assert.Contains("\"content\":\"a\"", writes[0]);
        Assert.Contains("\"content\":\"c\"", writes[2]);
        Assert.DoesNotContain("[DONE]", writes[2]);
        Assert.EndsWith("data: [DONE]\n\n", writes[3]);
    }

    [Fact]
    public async Task Relay_LastTokenArrivingWithTheEnd_LeavesWithItInOneWrite()
    {
        var writes = await RelayAsync([Token("a"), Token("b"), Token("c") + Done]);

        Assert.Equal(3, writes.Count);
        Assert.Contains("\"content\":\"c\"", writes[2]);
        Assert.EndsWith("data: [DONE]\n\n", writes[2]);
    }

    [Fact]
    public async Task Relay_BacklogInOneRead_OneWrite_BlankLineBetweenNotTakenForAChunk()
    {
        // A blank line after a token is not a chunk: the token must still go out before the relay waits again.
        var writes = await RelayAsync([Token("a") + Token("b") + "\n", Token("c") + Done]);

        Assert.Equal(2, writes.Count);
        Assert.Contains("\"content\":\"a\"", writes[0]);
        Assert.Contains("\"content\":\"b\"", writes[0]);
        Assert.EndsWith("data: [DONE]\n\n", writes[1]);
    }

    private static string Token(string text) =>
        $$"""{"model":"llama3.1:8b","created_at":"2026-11-22T00:00:00Z","message":{"role":"assistant","content":"{{text}}"},"done":false}""" + "\n";

    private const string Done =
        """{"model":"llama3.1:8b","created_at":"2026-11-22T00:00:00Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":3,"eval_count":3}""" + "\n";

    /// <summary>Relays a body that arrives in the given reads, one read each, and returns what each write to the client held.</summary>
    private static async Task<List<string>> RelayAsync(string[] reads)
    {
        var client = new WriteLog();
        var context = new DefaultHttpContext();
        context.Features.Set<IHttpResponseBodyFeature>(new StreamResponseBodyFeature(client));
        var upstream = new OllamaGenerationStream(new HttpResponseMessage { Content = new StreamContent(new ReadsStream(reads)) });
        Assert.True(await upstream.MoveNextAsync(CancellationToken.None)); // the first chunk is read before the relay starts
        var relay = new GenerationRelay(new RouterSettings(), TimeProvider.System);

        var outcome = await relay.RelayAsync(context, upstream, Deployment, stream: true,
            new ChatAnswerWriter("chat", stream: true, includeUsage: false, created: 0), DateTimeOffset.UtcNow.AddMinutes(1));

        Assert.Equal(RelayStatus.Completed, outcome.Status);
        return client.Writes;
    }

    /// <summary>A body that hands out exactly one of the given pieces per read, as separate network reads would.</summary>
    private sealed class ReadsStream(string[] reads) : Stream
    {
        private int _next;

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_next == reads.Length) return ValueTask.FromResult(0);
            var bytes = Encoding.UTF8.GetBytes(reads[_next++]);
            bytes.CopyTo(buffer.Span);
            return ValueTask.FromResult(bytes.Length);
        }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().Result;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>The client's side: each write the relay's flushes made, as text.</summary>
    private sealed class WriteLog : Stream
    {
        public List<string> Writes { get; } = [];

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (!buffer.IsEmpty) Writes.Add(Encoding.UTF8.GetString(buffer.Span));
            return ValueTask.CompletedTask;
        }

        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().Wait();
        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public override void Flush() { }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
