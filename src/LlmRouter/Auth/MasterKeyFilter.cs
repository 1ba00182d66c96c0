using System.Security.Cryptography;
using System.Text;
using LlmRouter.Configuration;
using LlmRouter.Errors;

namespace LlmRouter.Auth;

/// <summary>
/// <c>Authorization: Bearer &lt;master_key&gt;</c>, compared in constant time. With no master key configured every
/// request passes (start-up allows that only on loopback), including Open WebUI's missing header and empty <c>Bearer </c>.
/// </summary>
internal sealed class MasterKeyFilter(GeneralSettings settings) : IEndpointFilter
{
    // Comparing hashes keeps the comparison constant-time even when the lengths differ.
    private readonly byte[]? _masterKeyHash = settings.MasterKey is { } key ? SHA256.HashData(Encoding.UTF8.GetBytes(key)) : null;

    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        if (_masterKeyHash is null) return next(context);
        var presented = BearerToken(context.HttpContext.Request);
        if (presented.Length > 0)
        {
            Span<byte> hash = stackalloc byte[32];
            SHA256.HashData(Encoding.UTF8.GetBytes(presented), hash);
            if (CryptographicOperations.FixedTimeEquals(hash, _masterKeyHash)) return next(context);
        }
        return ValueTask.FromResult<object?>(ErrorResponses.Result(ApiError.InvalidApiKey()));
    }

    public static string BearerToken(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        const string Scheme = "Bearer ";
        if (header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase)) return header[Scheme.Length..].Trim();
        // Some clients send the key alone, or in LiteLLM's x-api-key style.
        var apiKey = request.Headers["x-api-key"].ToString();
        return apiKey.Length > 0 ? apiKey.Trim() : header.Trim();
    }
}
