using LlmRouter.Auth;
using LlmRouter.Configuration;
using LlmRouter.Hosting;
using LlmRouter.LiveState;
using LlmRouter.Routing;
using LlmRouter.Usage;

namespace LlmRouter.Completions;

/// <summary>
/// The end of every routed request: release its slot and key hold with the real token count (one settle, not
/// awaited by the client, sent before the answer's last bytes) and hand its usage row to the background writer.
/// </summary>
internal sealed class RequestAccounting(ILiveState state, IUsageSink usage, RouterSettings settings, TimeProvider time, PendingSettles pending)
{
    /// <summary>The longest an answer waits for its settle near a key's limit; past it, the answer goes out anyway.</summary>
    private static readonly TimeSpan NearLimitWait = TimeSpan.FromSeconds(1);

    /// <summary>Settles and records a routed request. See <see cref="Settle"/> for the task.</summary>
    public Task Finish<T>(HttpContext context, RoutedCall call, Routed<T> routed, long startedAt, RequestResult result) =>
        Finish(context, call, routed.ServedModel, routed.Lease, routed.KeyHold, startedAt, result);

    /// <summary>Settles and records a request that ended on <paramref name="lease"/>, complete or not. See <see cref="Settle"/> for the task.</summary>
    public Task Finish(HttpContext context, RoutedCall call, string servedModel, Lease lease, KeyHold? hold, long startedAt, RequestResult result)
    {
        var settled = Settle(lease, hold, result);
        Record(context, call, servedModel, lease.Deployment, startedAt, result, CostOf(lease.Deployment, result));
        return settled;
    }

    /// <summary>Once a routed request's answer has gone out: work that could wait for it is done now (<see cref="ILiveState.Finished"/>).</summary>
    /// <param name="startedAt">The request's arrival, a <see cref="TimeProvider.GetTimestamp"/>.</param>
    public void AnswerSent<T>(Routed<T> routed, long startedAt) => state.Finished(routed.Lease, routed.KeyHold, time.GetElapsedTime(startedAt));

    /// <summary>
    /// Releases the slot and the key's hold with the real count; once per routed request, before the answer's last
    /// bytes. The task is what the client should wait for before its answer ends: nothing, unless the key is near a
    /// limit (<see cref="KeyHold.NearLimit"/>), when it is the settle itself (at most <see cref="NearLimitWait"/>).
    /// </summary>
    private Task Settle(Lease lease, KeyHold? hold, RequestResult result)
    {
        var settle = state.SettleAsync(new SettleRequest
        {
            Lease = lease,
            KeyHold = hold,
            Now = time.GetUtcNow(),
            // A failure mid-answer counts toward the deployment's cooldown like one before the first byte.
            Failed = result.Status >= 500,
            ActualTokens = result.PromptTokens + result.CompletionTokens,
            ActualMicros = (long)(CostOf(lease.Deployment, result) * KeyLimits.MicrosPerUnit),
            // Only latency-based routing reads a deployment's time to first token; elsewhere keeping it costs Redis two calls.
            TtftMs = settings.RoutingStrategy == RoutingStrategy.LatencyBased ? result.TimeToFirstToken?.TotalMilliseconds : null,
            AllowedFails = settings.AllowedFails,
            FailureWindow = settings.FailureWindow,
            CooldownTime = settings.CooldownTime,
        });
        pending.Track(settle);
        return hold is { NearLimit: true } && !settle.IsCompleted ? WaitBoundedAsync(settle) : Task.CompletedTask;
    }

    private static async Task WaitBoundedAsync(Task settle)
    {
        try
        {
            await settle.WaitAsync(NearLimitWait);
        }
        catch (TimeoutException)
        {
            // Redis is slow: the answer goes out anyway; the settle still lands (or its lease expires).
        }
    }

    /// <summary>A request that never reached a backend still leaves a usage row (status and error type).</summary>
    public void Record(HttpContext context, RoutedCall call, string servedModel, Deployment? deployment, long startedAt, RequestResult result, decimal cost = 0)
    {
        usage.Record(new UsageRecord
        {
            Id = Guid.TryParse(context.TraceIdentifier, out var id) ? id : Ids.NewVersion7(time.GetUtcNow()),
            ClientRequestId = context.Request.Headers[RouterHeaders.RequestId].ToString() is { Length: > 0 and <= 128 } clientId ? clientId : null,
            KeyId = RequestCaller.Of(context).Key?.Id,
            Model = servedModel,
            RequestedModel = call.Model,
            DeploymentId = deployment?.Id,
            Backend = deployment?.BackendId,
            PromptTokens = result.PromptTokens,
            CompletionTokens = result.CompletionTokens,
            Cost = cost,
            Status = result.Status,
            ErrorType = result.ErrorCode,
            TimeToFirstTokenMs = result.TimeToFirstToken?.TotalMilliseconds,
            DurationMs = time.GetElapsedTime(startedAt).TotalMilliseconds,
            Streamed = call.Stream,
            EndUser = result.EndUser ?? NullIfEmpty(context.Request.Headers["X-OpenWebUI-User-Id"].ToString()),
            StartedAt = time.GetUtcNow() - time.GetElapsedTime(startedAt),
        });
    }

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;

    private static decimal CostOf(Deployment deployment, RequestResult result) =>
        (deployment.InputCostPerToken ?? 0) * result.PromptTokens + (deployment.OutputCostPerToken ?? 0) * result.CompletionTokens;
}

/// <summary>How a request ended, as accounting needs it.</summary>
internal sealed record RequestResult(int Status, int PromptTokens, int CompletionTokens, TimeSpan? TimeToFirstToken, string? ErrorCode = null, string? EndUser = null);

/// <summary>Settles still in flight; shutdown waits for them so no lease is left behind in Redis.</summary>
internal sealed class PendingSettles
{
    private int _pending;
    private TaskCompletionSource? _drained;

    /// <summary>A count, not a set: one small await per settle still in flight, no lock on the request path.</summary>
    public void Track(Task task)
    {
        if (task.IsCompleted) return;
        Interlocked.Increment(ref _pending);
        _ = CountDownAsync(task);
    }

    private async Task CountDownAsync(Task task)
    {
        try
        {
            await task;
        }
        catch (Exception)
        {
            // A settle logs its own failure; here it only has to stop being pending.
        }
        finally
        {
            if (Interlocked.Decrement(ref _pending) == 0) Volatile.Read(ref _drained)?.TrySetResult();
        }
    }

    /// <summary>Completes when no settle is in flight (at once if none is).</summary>
    public Task DrainAsync()
    {
        var drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _drained, drained);
        if (Volatile.Read(ref _pending) == 0) drained.TrySetResult();
        return drained.Task;
    }
}
