using LlmRouter.LiveState;

namespace LlmRouter.Routing;

/// <summary>
/// The client left while its non-streamed answer was being generated (<see cref="Streaming.WholeAnswer"/>): the backend
/// had started, and what it generated until then is charged, as a streamed answer cut short is charged for what was
/// relayed. The attempt's slot and the key's reservation are not given back by the router but left, with
/// <see cref="Lease"/> and <see cref="KeyHold"/>, to the handler, which settles them with that count.
/// </summary>
internal sealed class AnswerAbandonedException(int completionTokens, long firstLineAt, CancellationToken token)
    : OperationCanceledException(token)
{
    /// <summary>Answer lines read before the client left: the backend's tokens, one a line.</summary>
    public int CompletionTokens { get; } = completionTokens;

    /// <summary>When the answer's first line came (<see cref="TimeProvider.GetTimestamp"/>).</summary>
    public long FirstLineAt { get; } = firstLineAt;

    /// <summary>The abandoned attempt's slot; set by the attempt as the exception leaves it.</summary>
    public Lease? Lease { get; private set; }

    /// <summary>The key's reservation, if the request has a key with limits; set with <see cref="Lease"/>.</summary>
    public KeyHold? KeyHold { get; private set; }

    /// <summary>The model group that was serving it.</summary>
    public string ServedModel { get; private set; } = "";

    /// <summary>Called by the attempt the answer was abandoned in, as the exception leaves it.</summary>
    public void Attach(Lease lease, KeyHold? hold, string servedModel)
    {
        Lease = lease;
        KeyHold = hold;
        ServedModel = servedModel;
    }
}
