using LlmRouter.Discovery;

namespace LlmRouter.Tests.Discovery;

/// <summary>The fall/rise rule with <c>fall 3 rise 2</c>, HAProxy's defaults and ours.</summary>
public sealed class HealthCheckStateTests
{
    private const int Fall = 3;
    private const int Rise = 2;
    private static readonly DateTimeOffset T0 = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static HealthCheckState Fail(HealthCheckState s, int times, string error = "refused")
    {
        for (var i = 0; i < times; i++) s = s.Failed(error, T0.AddSeconds(i), Fall);
        return s;
    }

    private static HealthCheckState Succeed(HealthCheckState s, int times)
    {
        for (var i = 0; i < times; i++) s = s.Succeeded(T0.AddMinutes(1).AddSeconds(i), Rise);
        return s;
    }

    [Fact]
    public void Initial_IsHealthyWithNoHistory()
    {
        var s = HealthCheckState.Initial;
        Assert.True(s.Healthy);
        Assert.Equal(0, s.ConsecutiveFailures);
        Assert.Null(s.LastCheckAt);
        Assert.Null(s.LastError);
    }

    [Fact]
    public void Failed_FewerThanFallTimes_StaysHealthy()
    {
        var s = Fail(HealthCheckState.Initial, Fall - 1);
        Assert.True(s.Healthy);
        Assert.Equal(Fall - 1, s.ConsecutiveFailures);
        Assert.Equal("refused", s.LastError);
    }

    [Fact]
    public void Failed_FallTimesInARow_TurnsUnhealthy()
    {
        var s = Fail(HealthCheckState.Initial, Fall);
        Assert.False(s.Healthy);
        Assert.Equal(Fall, s.ConsecutiveFailures);
        Assert.Equal(T0.AddSeconds(Fall - 1), s.ChangedAt);
    }

    [Fact]
    public void Failed_InterruptedBySuccess_StartsCountingAgain()
    {
        var s = Fail(HealthCheckState.Initial, Fall - 1);
        s = Succeed(s, 1);
        s = Fail(s, Fall - 1);
        Assert.True(s.Healthy);
        Assert.Equal(Fall - 1, s.ConsecutiveFailures);
    }

    [Fact]
    public void Succeeded_FewerThanRiseTimes_StaysUnhealthy()
    {
        var s = Succeed(Fail(HealthCheckState.Initial, Fall), Rise - 1);
        Assert.False(s.Healthy);
        Assert.Equal(0, s.ConsecutiveFailures);
        Assert.Equal(Rise - 1, s.ConsecutiveSuccesses);
    }

    [Fact]
    public void Succeeded_RiseTimesInARow_TurnsHealthyAndKeepsTheLastError()
    {
        var s = Succeed(Fail(HealthCheckState.Initial, Fall, "timed out"), Rise);
        Assert.True(s.Healthy);
        Assert.Equal("timed out", s.LastError);
        Assert.Equal(T0.AddMinutes(1).AddSeconds(Rise - 1), s.ChangedAt);
    }

    [Fact]
    public void Succeeded_InterruptedByFailure_StaysUnhealthyAndStartsCountingAgain()
    {
        var s = Fail(HealthCheckState.Initial, Fall);
        s = Succeed(s, Rise - 1);
        s = Fail(s, 1);
        s = Succeed(s, Rise - 1);
        Assert.False(s.Healthy);
        Assert.Equal(Rise - 1, s.ConsecutiveSuccesses);
    }

    [Fact]
    public void FallAndRiseOfOne_FlipOnEveryChange()
    {
        var s = HealthCheckState.Initial.Failed("x", T0, fall: 1);
        Assert.False(s.Healthy);
        s = s.Succeeded(T0, rise: 1);
        Assert.True(s.Healthy);
    }
}
