using System.Collections.Concurrent;
using LlmRouter.Tests.Infrastructure;

namespace LlmRouter.Tests.EndToEnd;

/// <summary>
/// Steady traffic with one key: a few workers, each sending one request after another (plain and streamed in turn)
/// to the routers in turn, until stopped. Every answer is kept, so a test can hold the books against them.
/// </summary>
internal sealed class KeyTraffic
{
    private readonly ConcurrentQueue<ChatAnswer> _answers = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task[] _workers;

    private KeyTraffic(Func<IReadOnlyList<RouterProcess>> routers, string secret, int workers, ChatCall template, bool stopWhenUnreachable)
    {
        _workers = Enumerable.Range(0, workers).Select(w => Task.Run(async () =>
        {
            for (var i = 0; !_stop.IsCancellationRequested; i++)
            {
                var targets = routers();
                var router = targets[(w + i) % targets.Count];
                var answer = await KeyedClient.ChatAsync(router, secret, template with
                {
                    Stream = (w + i) % 2 == 1,
                    RequestId = $"traffic-{w}-{i}-{Guid.NewGuid():N}",
                });
                _answers.Enqueue(answer);
                if (stopWhenUnreachable && answer.Status == 0) return;
            }
        })).ToArray();
    }

    public IReadOnlyList<ChatAnswer> Answers => _answers.ToArray();

    public int Count => _answers.Count;

    /// <param name="stopWhenUnreachable">A worker stops at its first request that got no response at all (the router has gone).</param>
    public static KeyTraffic Start(Func<IReadOnlyList<RouterProcess>> routers, string secret, int workers, ChatCall? template = null,
        bool stopWhenUnreachable = false) =>
        new(routers, secret, workers, template ?? new ChatCall { MaxTokens = 8 }, stopWhenUnreachable);

    /// <summary>Waits until <paramref name="count"/> answers are in, however they ended.</summary>
    public Task WaitForAsync(int count, TimeSpan? timeout = null) =>
        Eventually.UntilAsync(() => Task.FromResult(Count), n => n >= count, $"{count} answers", timeout ?? TimeSpan.FromSeconds(30));

    /// <summary>Lets each worker finish the request it is in, then returns every answer.</summary>
    public async Task<IReadOnlyList<ChatAnswer>> StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_workers);
        return Answers;
    }
}
