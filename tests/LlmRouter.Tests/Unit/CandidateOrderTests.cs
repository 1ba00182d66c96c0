using LlmRouter.Configuration;
using LlmRouter.LiveState;
using LlmRouter.Routing;

namespace LlmRouter.Tests.Unit;

/// <summary>How the strategies that read live numbers order a group's deployments, and where spares stay out of their way.</summary>
public sealed class CandidateOrderTests
{
    private static readonly Deployment Fast = Dep("fast");
    private static readonly Deployment Slow = Dep("slow");
    private static readonly Deployment Unmeasured = Dep("unmeasured");

    [Fact]
    public void LatencyBased_AnUnmeasuredDeploymentGoesFirst_SoItGetsMeasured()
    {
        var order = new CandidateOrder(new RouterSettings { RoutingStrategy = RoutingStrategy.LatencyBased });
        order.Remember(new Dictionary<string, DeploymentStats> { [Slow.Id] = new(0, 100, 0, 0), [Unmeasured.Id] = default });

        // The shuffle before ordering is random: every draw must put the unmeasured one first.
        for (var i = 0; i < 50; i++)
        {
            Assert.Equal(Unmeasured, order.Order([Slow, Unmeasured], AllUp.Instance).Ordered[0]);
        }
    }

    [Fact]
    public void LatencyBased_MeasuredOnes_FastestFirst_SlowerOnesAfter()
    {
        var order = new CandidateOrder(new RouterSettings { RoutingStrategy = RoutingStrategy.LatencyBased });
        order.Remember(new Dictionary<string, DeploymentStats> { [Fast.Id] = new(0, 5, 0, 0), [Slow.Id] = new(0, 100, 0, 0) });

        for (var i = 0; i < 50; i++)
        {
            Assert.Equal([Fast, Slow], order.Order([Slow, Fast], AllUp.Instance).Ordered);
        }
    }

    [Theory]
    [InlineData(RoutingStrategy.LatencyBased, 2, false)]
    [InlineData(RoutingStrategy.UsageBased, 2, false)]
    [InlineData(RoutingStrategy.UsageBased, 1, true)]
    [InlineData(RoutingStrategy.SimpleShuffle, 2, true)]
    public void Spares_NotWhereLiveNumbersChooseAmongSeveral(RoutingStrategy strategy, int candidates, bool spares)
    {
        var order = new CandidateOrder(new RouterSettings { RoutingStrategy = strategy });
        var request = new AdmissionRequest
        {
            LeaseId = "l", RequestId = "r", Candidates = new[] { Fast, Slow }[..candidates], LeastBusy = false, Now = DateTimeOffset.UnixEpoch,
            LeaseTtl = TimeSpan.FromSeconds(15), MayUseSpare = true, WantsStats = order.WantsStats(candidates),
        };

        Assert.Equal(spares, SpareAdmissions.Applies(request));
    }

    private static Deployment Dep(string id) => new()
    {
        Id = id, ModelName = "chat", Provider = BackendProvider.Ollama, Model = "llama3.1:8b", ApiBase = new Uri($"http://{id}:11434/"),
    };

    /// <summary>Every deployment held, healthy and warm: only the live numbers decide.</summary>
    private sealed class AllUp : IDeploymentAvailability
    {
        public static readonly AllUp Instance = new();

        public bool IsHeld(Deployment deployment) => true;

        public bool IsRoutable(Deployment deployment) => true;

        public bool IsWarm(Deployment deployment) => true;

        public int? ContextLength(Deployment deployment) => null;

        public void ModelMissing(Deployment deployment)
        {
        }
    }
}
