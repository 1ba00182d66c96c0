using System.Text;
using LlmRouter.Configuration;
using LlmRouter.LiveState;

namespace LlmRouter.Tests.Unit;

/// <summary>The hot path's cached key names are exactly the live-state names the seed, the fallback and the heartbeat use.</summary>
public sealed class HotKeysTests
{
    private static string Text(StackExchange.Redis.RedisKey key) => Encoding.UTF8.GetString((byte[])key!);

    [Fact]
    public void Names_AreThoseOfLiveKeys_AndFollowTheMinuteAndPeriod()
    {
        var names = new HotKeys();
        var deployment = new Deployment
        {
            Id = "dep-1", ModelName = "chat", Provider = BackendProvider.Ollama, Model = "llama3.1:8b", ApiBase = new Uri("http://a:11434/"),
        };
        var keyId = Guid.NewGuid();

        var dep = names.For(deployment);
        Assert.Equal(LiveKeys.DeploymentLeases("dep-1"), Text(dep.Leases));
        Assert.Equal(LiveKeys.BackendLeases(deployment.BackendId), Text(dep.BackendLeases));
        Assert.Equal(LiveKeys.Cooldown("dep-1"), Text(dep.Cooldown));
        Assert.Equal(LiveKeys.DeploymentTokens("dep-1", "100"), Text(dep.Minute("100").Tokens));
        Assert.Equal(LiveKeys.DeploymentRequests("dep-1", "101"), Text(dep.Minute("101").Requests));

        var key = names.For(keyId);
        Assert.Equal(LiveKeys.KeyLeases(keyId), Text(key.Leases));
        Assert.Equal(LiveKeys.KeyRequests(keyId, "100"), Text(key.Minute("100").Requests));
        Assert.Equal(LiveKeys.KeyTokens(keyId, "101"), Text(key.Minute("101").Tokens));
        Assert.Equal(LiveKeys.KeyQuota(keyId, "lifetime"), Text(key.Period("lifetime").Quota));
        Assert.Equal(LiveKeys.KeySeeded(keyId, "3"), Text(key.Period("3").Seeded));
        Assert.Equal(LiveKeys.KeyBudget(keyId, "3"), Text(key.Period("3").Budget));
        Assert.Same(key.Period("3"), key.Period("3"));
    }
}
