using System.Security.Cryptography;
using System.Text;

namespace LlmRouter.LiveState.Resp;

/// <summary>A Lua script and its SHA-1, so calls send the 40-character digest (EVALSHA) instead of the body.</summary>
internal sealed class LuaScript(string body)
{
    public string Body { get; } = body;
    public string Sha1 { get; } = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(body)));
}
