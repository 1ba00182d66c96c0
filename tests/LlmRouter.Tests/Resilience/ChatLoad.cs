using System.ClientModel;
using System.Collections.Concurrent;
using System.Globalization;
using LlmRouter.Tests.Infrastructure;
using OpenAI.Chat;

namespace LlmRouter.Tests.Resilience;

/// <summary>
/// Non-streamed chat requests through the OpenAI SDK (its retries off) from a fixed number of concurrent workers,
/// counting what the client sees: every failure is kept with its reason.
/// </summary>
internal sealed class ChatLoad
{
    private readonly ConcurrentQueue<string> _failures = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly int _limit;
    private int _tickets;
    private int _succeeded;
    private int _retried;

    private ChatLoad(int limit) => _limit = limit;

    /// <summary>Completes when every worker has stopped.</summary>
    public Task Completion { get; private set; } = Task.CompletedTask;

    public int Succeeded => Volatile.Read(ref _succeeded);

    /// <summary>Requests that got an answer (success or failure).</summary>
    public int Finished => Succeeded + _failures.Count;

    /// <summary>Successes that needed more than one attempt (from <c>x-llmrouter-attempts</c>).</summary>
    public int Retried => Volatile.Read(ref _retried);

    public IReadOnlyCollection<string> Failures => _failures;

    /// <summary>Starts <paramref name="concurrency"/> workers that send requests until <paramref name="limit"/> have been sent or <see cref="StopAsync"/>.</summary>
    public static ChatLoad Start(RouterProcess router, int concurrency, int limit = int.MaxValue)
    {
        var load = new ChatLoad(limit);
        var chat = router.CreateOpenAIClient().GetChatClient("chat");
        load.Completion = Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(() => load.WorkAsync(chat))));
        return load;
    }

    /// <summary>Sends no new request and waits for those under way.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await Completion;
    }

    /// <summary>Polls until at least <paramref name="count"/> requests have an answer; fails early if a worker crashed.</summary>
    public Task WaitForFinishedAsync(int count, TimeSpan? timeout = null) =>
        Eventually.UntilAsync(
            () => Completion.IsFaulted ? throw Completion.Exception! : Task.FromResult(Finished),
            n => n >= count, $"{count} answered requests", timeout ?? TimeSpan.FromSeconds(30));

    private async Task WorkAsync(ChatClient chat)
    {
        while (!_stop.IsCancellationRequested && Interlocked.Increment(ref _tickets) <= _limit)
        {
            try
            {
                var result = await chat.CompleteChatAsync([new UserChatMessage("Say something short.")]);
                Interlocked.Increment(ref _succeeded);
                if (result.GetRawResponse().Headers.TryGetValue("x-llmrouter-attempts", out var attempts)
                    && int.Parse(attempts!, CultureInfo.InvariantCulture) > 1)
                {
                    Interlocked.Increment(ref _retried);
                }
            }
            catch (ClientResultException e)
            {
                _failures.Enqueue($"{e.Status}: {e.Message}");
            }
            catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
            {
                _failures.Enqueue($"{e.GetType().Name}: {e.Message}");
            }
        }
    }
}
