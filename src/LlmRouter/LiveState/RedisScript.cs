using System.Security.Cryptography;
using System.Text;
using StackExchange.Redis;

namespace LlmRouter.LiveState;

/// <summary>
/// A Lua script sent by its SHA1 (EVALSHA). StackExchange.Redis 1.2.6 looks a script given as text up in a table
/// keyed by the whole text on every call; the hash is computed here once. When Redis does not know the script
/// (first use, or it restarted) the text goes once with EVAL, which caches it again.
/// </summary>
internal sealed class RedisScript(string text)
{
    private readonly byte[] _hash = SHA1.HashData(Encoding.UTF8.GetBytes(text));

    /// <param name="timeout">
    /// The longest the caller waits for the answer (<see cref="Configuration.GeneralSettings.RedisTimeout"/>); then it
    /// gets a <see cref="RedisCallTimeoutException"/>, which holds the call: Redis may still run the script.
    /// </param>
    public async Task<RedisResult> EvaluateAsync(IDatabase db, RedisKey[] keys, RedisValue[] args, TimeSpan timeout)
    {
        try
        {
            return await WithinAsync(db.ScriptEvaluateAsync(_hash, keys, args), timeout);
        }
        catch (RedisServerException e) when (e.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
        {
            return await WithinAsync(db.ScriptEvaluateAsync(text, keys, args), timeout);
        }
    }

    private static async Task<RedisResult> WithinAsync(Task<RedisResult> call, TimeSpan timeout)
    {
        try
        {
            return await call.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new RedisCallTimeoutException(call, timeout);
        }
    }
}

/// <summary>
/// A script call given up after <c>redis_timeout</c>. The command has gone to Redis, which may still run it: the
/// caller cannot tell whether it counted anything. <see cref="Late"/> completes with Redis's answer if one comes.
/// </summary>
internal sealed class RedisCallTimeoutException(Task<RedisResult> late, TimeSpan timeout)
    : TimeoutException($"Redis did not answer within {timeout.TotalSeconds:0.###} s.")
{
    public Task<RedisResult> Late { get; } = late;
}
