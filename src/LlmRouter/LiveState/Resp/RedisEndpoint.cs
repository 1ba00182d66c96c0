using System.Globalization;

namespace LlmRouter.LiveState.Resp;

/// <summary>Where the script pipe connects, read from the same configuration string the multiplexer gets.</summary>
internal sealed record RedisEndpoint(string Host, int Port, string? Password, int Database, bool Ssl)
{
    /// <summary>
    /// StackExchange's <c>host:port,password=…,defaultDatabase=…,ssl=true</c> (what <see cref="RedisConnection.ToConfiguration"/>
    /// makes of a <c>redis://</c> URL). With several endpoints listed, the first is used; unknown options are ignored.
    /// </summary>
    public static RedisEndpoint Parse(string configuration)
    {
        string? host = null;
        var port = 6379;
        string? password = null;
        var database = 0;
        var ssl = false;
        foreach (var part in configuration.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = part.IndexOf('=');
            if (equals < 0)
            {
                if (host is not null) continue;
                var colon = part.LastIndexOf(':');
                var bracketed = part.StartsWith('[');
                if (colon > 0 && (!bracketed || part[colon - 1] == ']'))
                {
                    host = part[..colon].Trim('[', ']');
                    port = int.Parse(part[(colon + 1)..], CultureInfo.InvariantCulture);
                }
                else
                {
                    host = part.Trim('[', ']');
                }
                continue;
            }
            var name = part[..equals].Trim();
            var value = part[(equals + 1)..].Trim();
            if (name.Equals("password", StringComparison.OrdinalIgnoreCase)) password = value;
            else if (name.Equals("defaultDatabase", StringComparison.OrdinalIgnoreCase)) database = int.Parse(value, CultureInfo.InvariantCulture);
            else if (name.Equals("ssl", StringComparison.OrdinalIgnoreCase)) ssl = bool.Parse(value);
        }
        return new RedisEndpoint(host ?? "localhost", port, password, database, ssl);
    }
}
