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
    /// gets a <see cref="TimeoutException"/>.
    /// </param>
    public async Task<RedisResult> EvaluateAsync(IDatabase db, RedisKey[] keys, RedisValue[] args, TimeSpan timeout)
    {
        try
        {
            return await db.ScriptEvaluateAsync(_hash, keys, args).WaitAsync(timeout);
        }
        catch (RedisServerException e) when (e.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
        {
            return await db.ScriptEvaluateAsync(text, keys, args).WaitAsync(timeout);
        }
    }
}
