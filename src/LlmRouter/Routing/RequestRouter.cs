using System.Collections.Concurrent;
using LlmRouter.Backends;
using LlmRouter.Configuration;
using LlmRouter.Errors;
using LlmRouter.Hosting;
using LlmRouter.LiveState;
using Polly;
using Polly.Retry;
using Polly.Timeout;
using LlmRouter.Usage;

namespace LlmRouter.Routing;

/// <summary>
/// Gets a request answered: for each group in turn (the one asked for, then its fallbacks), a Polly pipeline of
/// retries that picks a deployment afresh on every attempt (atomic admission in the live state, waiting in the queue
/// when all are busy, or for a cooldown to end when there is nowhere else to go), with a per-attempt first-byte
/// timeout. Only failures before the first byte are retried; the caller relays the rest.
/// </summary>
internal sealed class RequestRouter
{
    private static readonly ResiliencePropertyKey<TimeSpan> FirstByteTimeout = new("llmrouter.first-byte-timeout");
    private static readonly ResiliencePropertyKey<DateTimeOffset> Deadline = new("llmrouter.deadline");

    /// <summary>The longest a request waits for a cooling deployment to return; further off, it gets 503 and Retry-After.</summary>
    private static readonly TimeSpan MaxCooldownWait = TimeSpan.FromSeconds(1);

    private readonly ModelCatalog _catalog;
    private readonly IDeploymentAvailability _availability;
    private readonly CandidateOrder _order;
    private readonly ILiveState _state;
    private readonly AdmissionQueue _queue;
    private readonly BackendRegistry _backends;
    private readonly RouterSettings _settings;
    private readonly TimeProvider _time;
    private readonly KeyCounterRebuilds _rebuilds;
    // One pipeline per answer type (generations, embeddings): a pipeline typed like its callback runs the retry strategy
    // without converting every outcome to object and back, which cost each request two more state machines.
    private readonly ConcurrentDictionary<Type, object> _pipelines = new();

    public RequestRouter(ModelCatalog catalog, IDeploymentAvailability availability, CandidateOrder order, ILiveState state,
        AdmissionQueue queue, BackendRegistry backends, RouterSettings settings, TimeProvider time, KeyCounterRebuilds rebuilds)
    {
        _catalog = catalog;
        _availability = availability;
        _order = order;
        _state = state;
        _queue = queue;
        _backends = backends;
        _settings = settings;
        _time = time;
        _rebuilds = rebuilds;
    }

    private ResiliencePipeline<Routed<T>> PipelineFor<T>() => (ResiliencePipeline<Routed<T>>)_pipelines.GetOrAdd(typeof(T),
        static (_, router) => BuildPipeline<T>(router._settings, router._time), this);

    private static ResiliencePipeline<Routed<T>> BuildPipeline<T>(RouterSettings settings, TimeProvider time)
    {
        var builder = new ResiliencePipelineBuilder<Routed<T>> { TimeProvider = time };
        if (settings.NumRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions<Routed<T>>
            {
                MaxRetryAttempts = settings.NumRetries,
                // Not once `timeout` (the whole call) has passed: a retry then could only fail.
                ShouldHandle = args => ValueTask.FromResult(
                    args.Outcome.Exception is BackendFailureException { Kind: not FailureKind.BadRequest } or TimeoutRejectedException
                    && time.GetUtcNow() < args.Context.Properties.GetValue(Deadline, DateTimeOffset.MaxValue)),
                // A saturated backend gets room to drain; any other failure is retried at once elsewhere.
                DelayGenerator = args => ValueTask.FromResult<TimeSpan?>(args.Outcome.Exception is BackendFailureException { Kind: FailureKind.Busy }
                    ? TimeSpan.FromMilliseconds(100 * Math.Pow(2, args.AttemptNumber) * (0.5 + Random.Shared.NextDouble()))
                    : TimeSpan.Zero),
            });
        }
        builder.AddTimeout(new TimeoutStrategyOptions
        {
            // Each attempt gets its first-byte timeout, but never more than is left of the whole call: retries share `timeout`.
            // (AttemptAsync refuses to start past the deadline.)
            TimeoutGenerator = args =>
            {
                var perAttempt = args.Context.Properties.GetValue(FirstByteTimeout, TimeSpan.FromMinutes(10));
                if (perAttempt == System.Threading.Timeout.InfiniteTimeSpan) return ValueTask.FromResult(perAttempt);
                return ValueTask.FromResult(CallDeadline.Within(perAttempt, args.Context.Properties.GetValue(Deadline, DateTimeOffset.MaxValue), time.GetUtcNow()));
            },
        });
        return builder.Build();
    }

    /// <summary>Rebuilds of a key's counters one admission may ask for before it gives up.</summary>
    private const int MaxRebuildsPerAdmission = 3;

    /// <param name="start">Starts the backend call on the admitted deployment and returns once its first chunk is in.</param>
    public async Task<Routed<T>> RouteAsync<T>(RoutedCall call, Func<IModelBackend, Deployment, CancellationToken, Task<T>> start,
        DateTimeOffset deadline, CancellationToken cancellationToken)
    {
        if (!_catalog.TryGetGroup(call.Model, out _)) throw new ApiErrorException(ApiError.ModelNotFound(call.Model));
        if (call.Key is { } key && !key.MayUse(call.Model)) throw new ApiErrorException(ApiError.ModelNotAllowed(call.Model));

        var groups = GroupsFor(call);
        var attempt = new AttemptState(call, groups.Count);
        ApiError? lastError = null;
        try
        {
            foreach (var group in groups)
            {
                attempt.Group = group;
                attempt.ModelMissing = null;
                attempt.GroupIndex++;
                // A fallback must pass the same key checks as the model asked for.
                if (call.Key is { } k && !k.MayUse(group)) continue;
                try
                {
                    var context = ResilienceContextPool.Shared.Get(cancellationToken);
                    try
                    {
                        context.Properties.Set(FirstByteTimeout, call.Wait switch
                        {
                            AttemptWait.FirstChunk => _settings.StreamTimeout ?? _settings.Timeout,
                            AttemptWait.Reply => _settings.FirstTokenTimeout < _settings.Timeout ? _settings.FirstTokenTimeout : _settings.Timeout,
                            _ => System.Threading.Timeout.InfiniteTimeSpan,
                        });
                        context.Properties.Set(Deadline, deadline);
                        var value = await PipelineFor<T>().ExecuteAsync(
                            // The task as is: an async lambda here would add one more state machine to every request.
                            static (ctx, s) => new ValueTask<Routed<T>>(s.Router.AttemptAsync(s, ctx.CancellationToken)),
                            context, new AttemptRun<T>(this, attempt, start, deadline, cancellationToken));
                        return value;
                    }
                    finally
                    {
                        ResilienceContextPool.Shared.Return(context);
                    }
                }
                catch (BackendFailureException e)
                {
                    // Ollama's 404 for a model it lacks is what the client would have got had the last poll known it.
                    lastError = e.Kind == FailureKind.ModelMissing ? ApiError.ModelNotFound(group) with { Message = e.Message } : e.ToApiError();
                    // The backend rejected the request itself (a 400 such as "does not support thinking"): another
                    // deployment or a fallback would only reject it again. The client gets Ollama's reason as a 400.
                    if (e.Kind == FailureKind.BadRequest) break;
                }
                catch (TimeoutRejectedException)
                {
                    lastError = ApiError.Timeout($"No deployment of '{group}' sent a first byte in time.");
                }
                catch (ApiErrorException e) when (e.Error.Code is "overloaded" or "model_not_found")
                {
                    lastError = e.Error;
                }
            }
        }
        catch (Exception e)
        {
            // The client left before an answer (or something unforeseen broke): nothing served, nothing held for it.
            // Unless the answer had started (a non-streamed one): its handler charges what was generated.
            if (e is not AnswerAbandonedException { Lease: not null }) GiveBackKeyHold(attempt);
            throw;
        }
        GiveBackKeyHold(attempt);
        throw new ApiErrorException(lastError ?? ApiError.ModelNotAllowed(call.Model));
    }

    /// <summary>Nothing served: the key's reservation (taken with the first slot) is given back.</summary>
    private void GiveBackKeyHold(AttemptState attempt)
    {
        if (attempt.KeyHold is { } hold) _ = _state.SettleAsync(new SettleRequest
        {
            KeyHold = hold, Now = _time.GetUtcNow(), AllowedFails = _settings.AllowedFails,
            FailureWindow = _settings.FailureWindow, CooldownTime = _settings.CooldownTime,
        });
    }

    private List<string> GroupsFor(RoutedCall call)
    {
        var groups = new List<string>();
        // Ollama truncates a prompt that does not fit instead of failing: skip straight to a bigger-context group.
        if (_settings.ContextWindowFallbacks.TryGetValue(call.Model, out var wider) && ExceedsContext(call.Model, call.EstimatedPromptTokens))
        {
            groups.AddRange(wider);
        }
        else
        {
            groups.Add(call.Model);
        }
        foreach (var fallback in call.Fallbacks)
        {
            if (!groups.Contains(fallback) && _catalog.TryGetGroup(fallback, out _)) groups.Add(fallback);
        }
        return groups;
    }

    private bool ExceedsContext(string group, int promptTokens)
    {
        if (!_catalog.TryGetGroup(group, out var deployments)) return false;
        var limits = deployments.Select(_availability.ContextLength).Where(l => l is not null).Select(l => l!.Value).ToArray();
        return limits.Length > 0 && promptTokens > limits.Max();
    }

    private async Task<Routed<T>> AttemptAsync<T>(AttemptRun<T> run, CancellationToken cancellationToken)
    {
        var state = run.State;
        // `timeout` bounds the whole call, retries and fallbacks included: past it, no new attempt starts.
        if (_time.GetUtcNow() >= run.Deadline) throw new TimeoutRejectedException("The call's timeout has passed.");
        state.Attempts++;
        var admission = await AdmitAsync(state, run.Deadline, cancellationToken);
        var lease = admission.Lease!;
        try
        {
            var value = await run.Start(_backends.For(lease.Deployment), lease.Deployment, cancellationToken);
            return new Routed<T>(value, lease, state.KeyHold, state.Group, state.Attempts, admission);
        }
        catch (AnswerAbandonedException abandoned) when (run.ClientGone.IsCancellationRequested)
        {
            // The slot and the key's reservation are settled by the handler, with what was generated.
            abandoned.Attach(lease, state.KeyHold, state.Group);
            throw;
        }
        catch (Exception e)
        {
            // Whatever went wrong, the slot goes back (an unexpected exception, a router bug, counts as no failure).
            (state.Tried ??= new(StringComparer.Ordinal)).Add(lease.Deployment.Id);
            if (e is BackendFailureException { Kind: FailureKind.ModelMissing } missing)
            {
                state.ModelMissing = missing.Message;
                _availability.ModelMissing(lease.Deployment);
            }
            // Bad input is the client's fault and a client that left is nobody's: neither counts toward a cooldown. Nor
            // does a busy backend (Ollama's queue full, 503): it is working, and a cooldown would refuse every request of
            // a one-deployment group for cooldown_time while the retry already goes elsewhere.
            // Nor does a 404 for a model the backend lacks: it answers, and the model may be pulled again any moment.
            var failed = e is BackendFailureException { Kind: not (FailureKind.BadRequest or FailureKind.Busy or FailureKind.ModelMissing) }
                || (e is OperationCanceledException && !run.ClientGone.IsCancellationRequested);
            _ = _state.SettleAsync(new SettleRequest
            {
                Lease = lease, Now = _time.GetUtcNow(), Failed = failed,
                AllowedFails = _settings.AllowedFails, FailureWindow = _settings.FailureWindow, CooldownTime = _settings.CooldownTime,
            });
            throw;
        }
    }

    private async Task<AdmissionResult> AdmitAsync(AttemptState state, DateTimeOffset deadline, CancellationToken cancellationToken)
    {
        _catalog.TryGetGroup(state.Group, out var deployments);
        var routable = Routable(deployments);
        if (routable.Length == 0)
        {
            // Held nowhere (per the backends' own model lists) is a 404; held but unhealthy is a 503 worth retrying.
            if (!deployments.Any(_availability.IsHeld))
                throw new ApiErrorException(ApiError.ModelNotFound(state.Group) with
                {
                    Message = $"The model '{state.Group}' is not held by any backend right now ({string.Join(", ", deployments.Select(d => d.Model).Distinct())}).",
                });
            throw new ApiErrorException(ApiError.Overloaded($"No healthy backend holds a model for '{state.Group}' right now.", retryAfterSeconds: 5));
        }
        // A retry goes to a deployment not tried yet, while there is one.
        var untried = state.Tried is { } tried ? routable.Where(d => !tried.Contains(d.Id)).ToArray() : routable;
        // After a backend's 404 for the model, asking one already tried again would only hear it again.
        if (untried.Length == 0 && state.ModelMissing is { } missing)
            throw new ApiErrorException(ApiError.ModelNotFound(state.Group) with { Message = missing });
        var (ordered, leastBusy) = _order.Order(untried.Length > 0 ? untried : routable, _availability);

        var rebuilds = 0;
        while (true)
        {
            var result = await AdmitOnceAsync(state, ordered, leastBusy);
            if (result.Status == AdmissionStatus.Busy)
            {
                result = await QueueAsync(state, ordered, leastBusy, deadline, cancellationToken);
            }
            switch (result.Status)
            {
                case AdmissionStatus.Admitted:
                    if (result.KeyHold is { } hold) state.KeyHold = hold;
                    state.LastAdmission = result;
                    return result;
                case AdmissionStatus.CoolingDown:
                    // With somewhere else to go, go; otherwise wait for the earliest deployment to come back if that is a
                    // moment away. A longer wait would hold the client (Open WebUI sets no timeout) for what Retry-After
                    // says as well, and a client that retries does so at once when it is told.
                    var now = _time.GetUtcNow();
                    var until = result.RetryAt ?? now.AddSeconds(1);
                    if (state.GroupIndex < state.GroupCount || until > deadline || until - now > MaxCooldownWait)
                        throw new ApiErrorException(ApiError.Overloaded($"Every deployment of '{state.Group}' is cooling down.", RetryAfter(result.RetryAt)));
                    if (until > now) await Task.Delay(until - now, _time, cancellationToken);
                    continue;
                case AdmissionStatus.KeyRateLimited:
                    throw new ApiErrorException(ApiError.RateLimited(
                        result.RemainingTokens == 0 ? "Token rate limit (tpm) reached for this key." : "Request rate limit (rpm) reached for this key.",
                        RetryAfter(result.RetryAt)) with { Headers = RateLimitHeaders.For(state.Call.Key, result, _time.GetUtcNow()) });
                case AdmissionStatus.KeyParallelLimited:
                    throw new ApiErrorException(ApiError.RateLimited("Too many requests in flight for this key (max_parallel_requests).", RetryAfter(result.RetryAt)));
                case AdmissionStatus.KeyQuotaExceeded:
                    // A periodic quota renews: say when. A lifetime one never does.
                    throw new ApiErrorException(state.Call.KeyAdmission?.QuotaResets is { } resets
                        ? ApiError.InsufficientQuota() with { RetryAfterSeconds = RetryAfter(resets) }
                        : ApiError.InsufficientQuota());
                case AdmissionStatus.KeyNeedsSeed:
                    // Once, or twice when a period ends meanwhile; a state that asks again and again is broken, and a
                    // request must not spin on it.
                    if (++rebuilds > MaxRebuildsPerAdmission)
                        throw new ApiErrorException(ApiError.Overloaded("This key's live counts could not be set up; try again shortly.", retryAfterSeconds: 1));
                    await _rebuilds.RebuildAsync(state.Call.KeyAdmission!, cancellationToken);
                    continue;
                default:
                    throw new ApiErrorException(ApiError.Overloaded($"Every deployment of '{state.Group}' is busy.", retryAfterSeconds: 1));
            }
        }
    }

    /// <summary>
    /// Waits in the group's queue until an admission succeeds. A method of its own so that only requests that queue make
    /// the closure: a lambda in <see cref="AdmitAsync"/> would capture its locals there, for every request.
    /// </summary>
    private Task<AdmissionResult> QueueAsync(AttemptState state, Deployment[] ordered, bool leastBusy, DateTimeOffset deadline,
        CancellationToken cancellationToken) =>
        _queue.WaitAsync(state.Group, () => AdmitOnceAsync(state, ordered, leastBusy), deadline, cancellationToken);

    private ValueTask<AdmissionResult> AdmitOnceAsync(AttemptState state, Deployment[] ordered, bool leastBusy)
    {
        var wantsStats = _order.WantsStats(ordered.Length);
        var result = _state.AdmitAsync(new AdmissionRequest
        {
            LeaseId = Ids.NewHex(),
            RequestId = state.Call.RequestId,
            Candidates = ordered,
            LeastBusy = leastBusy,
            BackendLimit = _settings.MaxParallelRequestsPerBackend,
            // The key's share is taken once per request, with its first slot.
            Key = state.KeyHold is null ? state.Call.KeyAdmission : null,
            Now = _time.GetUtcNow(),
            LeaseTtl = _settings.LeaseTtl,
            MayUseSpare = state is { Attempts: 1, GroupIndex: 1, KeyHold: null },
            WantsStats = wantsStats,
        });
        return wantsStats ? Remember(result) : result;
    }

    private async ValueTask<AdmissionResult> Remember(ValueTask<AdmissionResult> pending)
    {
        var result = await pending;
        _order.Remember(result.Stats);
        return result;
    }

    /// <summary>The group's routable deployments: the group's own array when all are (nearly always), no copy.</summary>
    private Deployment[] Routable(Deployment[] deployments)
    {
        var count = 0;
        foreach (var d in deployments) if (_availability.IsRoutable(d)) count++;
        if (count == deployments.Length) return deployments;
        var routable = new Deployment[count];
        var next = 0;
        foreach (var d in deployments) if (next < count && _availability.IsRoutable(d)) routable[next++] = d;
        // Health can change between the two passes.
        return next == count ? routable : routable[..next];
    }

    private int RetryAfter(DateTimeOffset? at) =>
        at is { } when ? Math.Max(1, (int)Math.Ceiling((when - _time.GetUtcNow()).TotalSeconds)) : 1;

    private sealed class AttemptState(RoutedCall call, int groupCount)
    {
        public RoutedCall Call { get; } = call;
        public int GroupCount { get; } = groupCount;
        public int GroupIndex { get; set; }
        public string Group { get; set; } = call.Model;
        public int Attempts { get; set; }
        /// <summary>Deployments that failed this request; null until one has (nearly always).</summary>
        public HashSet<string>? Tried { get; set; }
        public KeyHold? KeyHold { get; set; }
        public AdmissionResult? LastAdmission { get; set; }
        /// <summary>What a backend of the group said when it answered 404 for the model; null unless one has.</summary>
        public string? ModelMissing { get; set; }
    }

    private sealed record AttemptRun<T>(RequestRouter Router, AttemptState State,
        Func<IModelBackend, Deployment, CancellationToken, Task<T>> Start, DateTimeOffset Deadline, CancellationToken ClientGone);
}
