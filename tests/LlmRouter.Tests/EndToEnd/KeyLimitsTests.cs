using System.Globalization;
using System.Text.RegularExpressions;
using LlmRouter.Tests.Infrastructure;
using LlmRouter.Tests.Keys;
using Xunit.Abstractions;
using RouterProcess = LlmRouter.Tests.Infrastructure.RouterProcess;

namespace LlmRouter.Tests.EndToEnd;

/// <summary>
/// A key's limits held across two replicas through Redis: the token quota under a burst of concurrent requests,
/// rpm exactly, and the <c>x-ratelimit-*</c> / <c>Retry-After</c> headers clients back off by.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed partial class KeyLimitsTests(SharedStack shared, ITestOutputHelper output) : IAsyncLifetime
{
    private KeyedStack Stack => shared.Stack;

    private RouterProcess A => Stack.Routers[0];

    private RouterProcess B => Stack.Routers[1];

    public Task InitializeAsync() => Stack.Simulator.Control.ResetAsync();

    public async Task DisposeAsync()
    {
        Stack.WriteLogs(output);
        await Stack.Simulator.Control.ResetAsync();
    }

    [Fact]
    public async Task FiftyConcurrentRequests_SmallTokenQuota_NeverOvershot_RefusalsAreInsufficientQuota()
    {
        const int Quota = 1000;
        const int MaxTokens = 90;
        // Every answer uses its whole max_tokens, and the first ones are still generating when the rest arrive.
        await Stack.Simulator.Control.ConfigureAsync(new SimConfig { Tokens = 500, FirstTokenDelayMs = 300 });
        var key = await KeyedStack.MintAsync(A, new { alias = "burst-" + Guid.NewGuid().ToString("N")[..8], max_tokens = Quota });

        var answers = await Task.WhenAll(Enumerable.Range(0, 50).Select(i =>
            KeyedClient.ChatAsync(i % 2 == 0 ? A : B, key.Secret, new ChatCall { MaxTokens = MaxTokens, Stream = i % 4 == 1 })));

        var served = answers.Where(r => r.Status == 200).ToList();
        var others = answers.Where(r => r.Status != 200).ToList();
        var used = served.Sum(r => r.TotalTokens);
        output.WriteLine($"MEASURED burst: {served.Count} of 50 served, {used} of {Quota} tokens used, {others.Count} refused");
        Assert.All(others, r => Assert.True(r is { Status: 429, Code: "insufficient_quota" }, r.ToString()));
        Assert.True(used <= Quota, $"the quota of {Quota} was overshot: {used} tokens served");
        Assert.NotEmpty(served);
        Assert.All(served, r => Assert.Equal(MaxTokens, r.CompletionTokens));
        // Refusals were needed: what is left would not cover one more answer.
        Assert.True(Quota - used < served[0].TotalTokens, $"{Quota - used} tokens left unused, enough for another answer");

        // The books agree with the clients: one row per request, the rollup and the admin API total the same tokens.
        var rows = await Eventually.UntilAsync(() => Stack.Usage.ForKeyAsync(key.Id), r => r.Count == 50, "50 usage rows for the key");
        Assert.Equal(used, rows.Sum(r => r.TotalTokens));
        Assert.Equal(served.Count, rows.Count(r => r.Status == 200));
        Assert.Equal(others.Count, rows.Count(r => r is { Status: 429, ErrorType: "insufficient_quota", TotalTokens: 0 }));
        using var admin = KeyedStack.AdminClient(A);
        var totals = await Eventually.UntilAsync(async () => (await admin.GetJsonAsync($"admin/keys/{key.Id}/usage")).Body.GetProperty("totals"),
            t => t.GetProperty("requests").GetInt64() == 50, "the rollup to count 50 requests");
        Assert.Equal(used, totals.GetProperty("total_tokens").GetInt64());
        Assert.Equal(others.Count, totals.GetProperty("errors").GetInt64());
    }

    [Fact]
    public async Task ClientGoneBeforeTheAnswer_KeysReservationGivenBack_Recorded499()
    {
        const int Quota = 1000;
        const int MaxTokens = 400;
        await Stack.Simulator.Control.ConfigureAsync(new SimConfig { Tokens = 20, FirstTokenDelayMs = 10_000 });
        var key = await KeyedStack.MintAsync(A, new { alias = "gone-" + Guid.NewGuid().ToString("N")[..8], max_tokens = Quota });

        // Two clients give up while their answers have not started: each reserved its prompt plus 400 of the 1,000.
        foreach (var stream in new[] { false, true })
        {
            using var leave = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
                KeyedClient.ChatAsync(A, key.Secret, new ChatCall { MaxTokens = MaxTokens, Stream = stream }, leave.Token));
        }

        var rows = await Eventually.UntilAsync(() => Stack.Usage.ForKeyAsync(key.Id), r => r.Count == 2, "a usage row for each request");
        Assert.All(rows, r => Assert.True(r is { Status: 499, TotalTokens: 0 }, r.ToString()));
        // Neither holds anything now: another request of the same size fits (with both reservations kept, 200 would be left).
        await Stack.Simulator.Control.ConfigureAsync(new SimConfig { Tokens = 20 });
        var served = await KeyedClient.ChatAsync(A, key.Secret, new ChatCall { MaxTokens = MaxTokens });
        Assert.True(served.Status == 200, served.ToString());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ClientGoneMidAnswer_ChargedForWhatWasGenerated_Recorded499(bool stream)
    {
        const int Quota = 200;
        const int MaxTokens = 180;
        // 60 tokens 40 ms apart, the first at once: the answer would take 2.4 s, and the client leaves partway.
        await Stack.Simulator.Control.ConfigureAsync(new SimConfig { Tokens = 60, TokenIntervalMs = 40 });
        var key = await KeyedStack.MintAsync(A, new { alias = "left-" + Guid.NewGuid().ToString("N")[..8], max_tokens = Quota });

        using var leave = new CancellationTokenSource(TimeSpan.FromMilliseconds(800));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            KeyedClient.ChatAsync(A, key.Secret, new ChatCall { MaxTokens = MaxTokens, Stream = stream }, leave.Token));

        // Charged the prompt (the estimate) and the tokens generated before it left, streamed or not.
        var row = Assert.Single(await Eventually.UntilAsync(() => Stack.Usage.ForKeyAsync(key.Id), r => r.Count == 1, "the request's usage row"));
        Assert.True(row is { Status: 499, PromptTokens: > 0, CompletionTokens: > 0 and < 60 }, row.ToString());
        // And they count against the key's quota: the same request again (its prompt plus 180 reserved) no longer fits,
        // where it would with the first one charged nothing.
        var again = await KeyedClient.ChatAsync(A, key.Secret, new ChatCall { MaxTokens = MaxTokens });
        Assert.True(again is { Status: 429, Code: "insufficient_quota" }, again.ToString());
    }

    [Fact]
    public async Task NonStreamedAnswer_UsageRowsTimeToFirstTokenIsWhenGenerationStarted_NotTheWholeAnswer()
    {
        // 10 tokens 150 ms apart: the whole answer takes over 1.3 s, its first token comes at once.
        await Stack.Simulator.Control.ConfigureAsync(new SimConfig { Tokens = 10, TokenIntervalMs = 150 });
        var key = await KeyedStack.MintAsync(A, new { alias = "ttft-" + Guid.NewGuid().ToString("N")[..8] });

        var answer = await KeyedClient.ChatAsync(A, key.Secret, new ChatCall());

        Assert.True(answer.Status == 200, answer.ToString());
        var row = Assert.Single(await Eventually.UntilAsync(() => Stack.Usage.ForKeyAsync(key.Id), r => r.Count == 1, "the request's usage row"));
        Assert.True(row.DurationMs >= 1300, $"duration {row.DurationMs} ms");
        Assert.True(row.TtftMs < row.DurationMs - 1000, $"time to first token {row.TtftMs} ms of {row.DurationMs} ms");
    }

    [Fact]
    public async Task RpmLimit_MoreConcurrentRequestsThanAllowed_OnTwoReplicas_ExactlyTheLimitServed()
    {
        const int Rpm = 4;
        const int Sent = Rpm + 6;
        var (key, answers) = await WithinOneMinuteAsync(async () =>
        {
            var minted = await KeyedStack.MintAsync(A, new { rpm_limit = Rpm });
            var results = await Task.WhenAll(Enumerable.Range(0, Sent).Select(i => KeyedClient.ChatAsync(i % 2 == 0 ? A : B, minted.Secret, new ChatCall())));
            return (minted, results);
        });

        Assert.Equal(Rpm, answers.Count(r => r.Status == 200));
        foreach (var refused in answers.Where(r => r.Status != 200))
        {
            Assert.True(refused is { Status: 429, Code: "rate_limit_exceeded" }, refused.ToString());
            AssertRetryAfter(refused);
            Assert.Equal("0", refused.Header("x-ratelimit-remaining-requests"));
        }
        var rows = await Eventually.UntilAsync(() => Stack.Usage.ForKeyAsync(key.Id), r => r.Count == Sent, $"{Sent} usage rows");
        Assert.Equal(Rpm, rows.Count(r => r.Status == 200));
    }

    [Fact]
    public async Task MaxParallelRequests_HeldAnswersOnTwoReplicas_OthersRefusedUntilASlotFrees()
    {
        const int Parallel = 2;
        var key = await KeyedStack.MintAsync(A, new { max_parallel_requests = Parallel });
        // Answers that reach the backend wait there until released, so the key's slots stay taken.
        await Stack.Simulator.Control.HoldAsync();
        var calls = Enumerable.Range(0, Parallel + 4).Select(i => KeyedClient.ChatAsync(i % 2 == 0 ? A : B, key.Secret, new ChatCall())).ToList();
        try
        {
            await Eventually.UntilAsync(async () => (calls.Count(c => c.IsCompleted), (await Stack.Simulator.Control.GetStatsAsync()).Held),
                s => s == (4, Parallel), $"{Parallel} answers held at the backend and the other 4 refused");
        }
        finally
        {
            await Stack.Simulator.Control.ReleaseAsync();
        }
        var answers = await Task.WhenAll(calls);

        Assert.Equal(Parallel, answers.Count(r => r.Status == 200));
        foreach (var refused in answers.Where(r => r.Status != 200))
        {
            Assert.True(refused is { Status: 429, Code: "rate_limit_exceeded" }, refused.ToString());
            AssertRetryAfter(refused);
        }
        // Settled slots are free again, on either replica (the settle runs just after the answer, so allow it a moment).
        await Eventually.UntilAsync(() => KeyedClient.ChatAsync(B, key.Secret, new ChatCall()), r => r.Status == 200, "a slot free again",
            TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task RateLimitHeaders_PresentAndDecreasing_RefusalCarriesRetryAfter()
    {
        const int Rpm = 5;
        const int Tpm = 2000;
        var answers = await WithinOneMinuteAsync(async () =>
        {
            var key = await KeyedStack.MintAsync(A, new { rpm_limit = Rpm, tpm_limit = Tpm });
            var results = new List<ChatAnswer>();
            // Alternating replicas: the counts are shared, so each answer reflects all before it.
            for (var i = 0; i <= Rpm; i++) results.Add(await KeyedClient.ChatAsync(i % 2 == 0 ? A : B, key.Secret, new ChatCall { MaxTokens = 8 }));
            return results;
        });

        var served = answers.Take(Rpm).ToList();
        Assert.All(served, r => Assert.True(r.Status == 200, r.ToString()));
        for (var i = 0; i < served.Count; i++)
        {
            var r = served[i];
            Assert.Equal(Rpm.ToString(CultureInfo.InvariantCulture), r.Header("x-ratelimit-limit-requests"));
            Assert.Equal(Tpm.ToString(CultureInfo.InvariantCulture), r.Header("x-ratelimit-limit-tokens"));
            Assert.Equal((Rpm - 1 - i).ToString(CultureInfo.InvariantCulture), r.Header("x-ratelimit-remaining-requests"));
            AssertResetHeader(r, "x-ratelimit-reset-requests");
            AssertResetHeader(r, "x-ratelimit-reset-tokens");
        }
        var tokensLeft = served.Select(r => long.Parse(r.Header("x-ratelimit-remaining-tokens")!, CultureInfo.InvariantCulture)).ToList();
        Assert.True(tokensLeft.Zip(tokensLeft.Skip(1)).All(p => p.Second < p.First) && tokensLeft[0] < Tpm,
            $"x-ratelimit-remaining-tokens should fall with every answer: {string.Join(", ", tokensLeft)}");
        output.WriteLine($"remaining-tokens: {string.Join(", ", tokensLeft)}");

        var refused = answers[Rpm];
        Assert.True(refused is { Status: 429, Code: "rate_limit_exceeded" }, refused.ToString());
        AssertRetryAfter(refused);
        Assert.Equal("0", refused.Header("x-ratelimit-remaining-requests"));
        Assert.Equal(Rpm.ToString(CultureInfo.InvariantCulture), refused.Header("x-ratelimit-limit-requests"));
    }

    [Fact]
    public async Task TpmLimit_Reached_429RateLimitExceededWithRetryAfterAndNoTokensLeft()
    {
        const int Tpm = 40;
        var answers = await WithinOneMinuteAsync(async () =>
        {
            var key = await KeyedStack.MintAsync(A, new { tpm_limit = Tpm });
            var results = new List<ChatAnswer>();
            for (var i = 0; i < 10 && results.All(r => r.Status == 200); i++)
                results.Add(await KeyedClient.ChatAsync(i % 2 == 0 ? A : B, key.Secret, new ChatCall { MaxTokens = 8 }));
            return results;
        });

        var refused = answers[^1];
        Assert.True(refused is { Status: 429, Code: "rate_limit_exceeded" }, refused.ToString());
        AssertRetryAfter(refused);
        Assert.Equal("0", refused.Header("x-ratelimit-remaining-tokens"));
        var used = answers.Where(r => r.Status == 200).Sum(r => r.TotalTokens);
        Assert.True(used <= Tpm, $"{used} tokens served in a minute on a tpm limit of {Tpm}");
        Assert.True(answers.Count > 1, "the first request was refused");
    }

    /// <summary>
    /// Runs <paramref name="attempt"/> (with a fresh key each time) until it both starts and ends in one UTC minute,
    /// so per-minute counts are not split by a window boundary; at most three tries.
    /// </summary>
    private async Task<T> WithinOneMinuteAsync<T>(Func<Task<T>> attempt)
    {
        for (var i = 1; ; i++)
        {
            var minute = DateTimeOffset.UtcNow.ToUnixTimeSeconds() / 60;
            var result = await attempt();
            if (DateTimeOffset.UtcNow.ToUnixTimeSeconds() / 60 == minute) return result;
            output.WriteLine($"attempt {i} crossed a minute boundary; again with a new key");
            if (i == 3) throw new InvalidOperationException("three attempts in a row crossed a minute boundary");
        }
    }

    private static void AssertRetryAfter(ChatAnswer refused)
    {
        var text = refused.Header("Retry-After");
        Assert.True(int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds is >= 1 and <= 60,
            $"Retry-After should be whole seconds within the minute window, got '{text}' on {refused}");
    }

    private static void AssertResetHeader(ChatAnswer answer, string name)
    {
        var text = answer.Header(name);
        var match = text is null ? null : ResetValue().Match(text);
        Assert.True(match is { Success: true } && double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) is > 0 and <= 60,
            $"{name} should be seconds until the window resets (e.g. 12.5s), got '{text}'");
    }

    [GeneratedRegex(@"^(\d+(?:\.\d+)?)s$")]
    private static partial Regex ResetValue();
}
