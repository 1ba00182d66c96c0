namespace LlmRouter.LiveState;

/// <summary>Names of every piece of live state, in Redis and in the local fallback alike.</summary>
internal static class LiveKeys
{
    private const string P = RedisConnection.Prefix;

    public static string DeploymentLeases(string deploymentId) => $"{P}lease:dep:{deploymentId}";
    public static string BackendLeases(string backendId) => $"{P}lease:be:{backendId}";
    public static string KeyLeases(Guid keyId) => $"{P}lease:key:{keyId:N}";
    public static string Cooldown(string deploymentId) => $"{P}cooldown:{deploymentId}";
    public static string Failures(string deploymentId) => $"{P}fails:{deploymentId}";
    public static string Ttft(string deploymentId) => $"{P}ttft:{deploymentId}";
    public static string DeploymentRequests(string deploymentId, string minute) => $"{P}rpm:dep:{deploymentId}:{minute}";
    public static string DeploymentTokens(string deploymentId, string minute) => $"{P}tpm:dep:{deploymentId}:{minute}";
    public static string KeyRequests(Guid keyId, string minute) => $"{P}rpm:key:{keyId:N}:{minute}";
    public static string KeyTokens(Guid keyId, string minute) => $"{P}tpm:key:{keyId:N}:{minute}";
    public static string KeyQuota(Guid keyId, string period) => $"{P}quota:key:{keyId:N}:{period}";
    public static string KeyBudget(Guid keyId, string period) => $"{P}budget:key:{keyId:N}:{period}";
    /// <summary>Present once the key's counters for the period were seeded from recorded usage.</summary>
    public static string KeySeeded(Guid keyId, string period) => $"{P}seeded:key:{keyId:N}:{period}";
    /// <summary>Set once per Redis lifetime; a change means Redis lost its state and counters must be rebuilt.</summary>
    public const string Epoch = P + "epoch";
    /// <summary>The replicas sharing this Redis, each scored by its last lease heartbeat.</summary>
    public const string Replicas = P + "replicas";
}
