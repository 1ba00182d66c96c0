using System.Net;
using System.Text;

namespace LlmRouter.Bench.Http;

/// <summary>Requests built once as bytes, so the load loop only copies them to the socket.</summary>
internal static class RawRequest
{
    public static byte[] PostJson(IPEndPoint server, string path, string body, string? bearer = null)
    {
        var bodyBytes = Encoding.UTF8.GetBytes(body);
        var head = new StringBuilder()
            .Append("POST ").Append(path).Append(" HTTP/1.1\r\n")
            .Append("Host: ").Append(server).Append("\r\n")
            .Append("Content-Type: application/json\r\n")
            .Append("Content-Length: ").Append(bodyBytes.Length).Append("\r\n");
        if (bearer is not null) head.Append("Authorization: Bearer ").Append(bearer).Append("\r\n");
        head.Append("\r\n");
        return [.. Encoding.ASCII.GetBytes(head.ToString()), .. bodyBytes];
    }
}
