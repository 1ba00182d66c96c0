using LlmRouter.LiveState;

namespace LlmRouter.Tests.Unit;

/// <summary>Group commit: alone, an item goes at once; items that arrive during a call go together in the next.</summary>
public sealed class GroupCommitTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    /// <summary>A sender whose calls complete only when the test releases them, recording what each call carried.</summary>
    private sealed class GatedSender
    {
        private readonly Queue<TaskCompletionSource> _gates = new();
        public List<int[]> Calls { get; } = [];

        public async Task<string[]> SendAsync(IReadOnlyList<int> items)
        {
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (Calls)
            {
                Calls.Add([.. items]);
                _gates.Enqueue(gate);
            }
            await gate.Task;
            if (items.Contains(-1)) throw new InvalidOperationException("boom");
            return items.Select(i => $"r{i}").ToArray();
        }

        public int CallCount { get { lock (Calls) return Calls.Count; } }

        public void ReleaseNext()
        {
            lock (Calls) _gates.Dequeue().SetResult();
        }
    }

    private static async Task WaitForCallsAsync(GatedSender sender, int count)
    {
        using var timeout = new CancellationTokenSource(Deadline);
        while (sender.CallCount < count) await Task.Delay(5, timeout.Token);
    }

    [Fact]
    public async Task OneItem_IsSentAtOnce_Alone()
    {
        var sender = new GatedSender();
        var commit = new GroupCommit<int, string>(sender.SendAsync, maxBatch: 8, inTurn: true);

        var result = commit.SendAsync(1);
        await WaitForCallsAsync(sender, 1);
        sender.ReleaseNext();

        Assert.Equal("r1", await result.WaitAsync(Deadline));
        Assert.Equal([1], Assert.Single(sender.Calls));
    }

    [Fact]
    public async Task ItemsArrivingDuringACall_GoTogetherInTheNext_EachGetsItsOwnResult()
    {
        var sender = new GatedSender();
        var commit = new GroupCommit<int, string>(sender.SendAsync, maxBatch: 8, inTurn: true);

        var first = commit.SendAsync(1);
        await WaitForCallsAsync(sender, 1);
        var later = Enumerable.Range(2, 5).Select(commit.SendAsync).ToArray();
        Assert.Equal(1, sender.CallCount);
        sender.ReleaseNext();
        await WaitForCallsAsync(sender, 2);
        sender.ReleaseNext();

        Assert.Equal("r1", await first.WaitAsync(Deadline));
        Assert.Equal(["r2", "r3", "r4", "r5", "r6"], await Task.WhenAll(later).WaitAsync(Deadline));
        Assert.Equal([2, 3, 4, 5, 6], sender.Calls[1]);
    }

    [Fact]
    public async Task LongQueue_IsSplitIntoCallsOfAtMostMaxBatch()
    {
        var sender = new GatedSender();
        var commit = new GroupCommit<int, string>(sender.SendAsync, maxBatch: 3, inTurn: true);

        var first = commit.SendAsync(0);
        await WaitForCallsAsync(sender, 1);
        var later = Enumerable.Range(1, 7).Select(commit.SendAsync).ToArray();
        for (var call = 1; call <= 4; call++)
        {
            await WaitForCallsAsync(sender, call);
            sender.ReleaseNext();
        }

        await first.WaitAsync(Deadline);
        Assert.Equal(Enumerable.Range(1, 7).Select(i => $"r{i}"), await Task.WhenAll(later).WaitAsync(Deadline));
        Assert.Equal([[0], [1, 2, 3], [4, 5, 6], [7]], sender.Calls);
    }

    [Fact]
    public async Task FailedCall_FailsOnlyItsOwnItems_TheNextCallStillGoes()
    {
        var sender = new GatedSender();
        var commit = new GroupCommit<int, string>(sender.SendAsync, maxBatch: 8, inTurn: true);

        var failing = commit.SendAsync(-1);
        await WaitForCallsAsync(sender, 1);
        var next = commit.SendAsync(2);
        sender.ReleaseNext();
        await WaitForCallsAsync(sender, 2);
        sender.ReleaseNext();

        await Assert.ThrowsAsync<InvalidOperationException>(() => failing.WaitAsync(Deadline));
        Assert.Equal("r2", await next.WaitAsync(Deadline));
    }

    /// <summary>
    /// In turn, every caller goes on, one after the other, on the thread that got the call's reply: a request waiting for
    /// Redis continues where the reply came in, without a thread-pool hop (a worker woken, then spinning) of its own.
    /// </summary>
    [Fact]
    public async Task InTurn_AllCallersContinueOnTheThreadThatGotTheReply()
    {
        var (replyThread, results) = await SixCallersAsync(inTurn: true);

        Assert.All(results, r => Assert.Equal(replyThread, r.Thread));
    }

    /// <summary>Not in turn (more than one CPU), the first caller goes on there and the others on the thread pool, side by side.</summary>
    [Fact]
    public async Task NotInTurn_OnlyTheFirstCallerOfEachCallContinuesOnTheThreadThatGotTheReply()
    {
        var (replyThread, results) = await SixCallersAsync(inTurn: false);

        // Caller 1 went alone in the first call; caller 2 was the first of the second call, which ran on the same thread.
        Assert.Equal(replyThread, results[0].Thread);
        Assert.Equal(replyThread, results[1].Thread);
        Assert.All(results[2..], r => Assert.NotEqual(replyThread, r.Thread));
    }

    /// <summary>Six callers: the first goes alone; the other five wait for it and go together in a second call, answered at once.</summary>
    private static async Task<(int ReplyThread, (string Result, int Thread)[] Results)> SixCallersAsync(bool inTurn)
    {
        var reply = new TaskCompletionSource<string[]>();
        var calls = 0;
        var commit = new GroupCommit<int, string>(
            items => Interlocked.Increment(ref calls) == 1 ? reply.Task : Task.FromResult(items.Select(i => $"r{i}").ToArray()),
            maxBatch: 8, inTurn);
        // Started off the test framework's synchronization context, as in the router, which has none.
        var callers = await Task.Run(() => Enumerable.Range(1, 6).Select(CallerAsync).ToArray());

        var replyThread = 0;
        var thread = new Thread(() =>
        {
            replyThread = Environment.CurrentManagedThreadId;
            reply.SetResult(["r1"]);
        });
        thread.Start();
        thread.Join();

        var results = await Task.WhenAll(callers).WaitAsync(Deadline);
        Assert.Equal(["r1", "r2", "r3", "r4", "r5", "r6"], results.Select(r => r.Result));
        Assert.Equal(2, calls);
        return (replyThread, results);

        async Task<(string Result, int Thread)> CallerAsync(int item)
        {
            var result = await commit.SendAsync(item);
            return (result, Environment.CurrentManagedThreadId);
        }
    }
}
