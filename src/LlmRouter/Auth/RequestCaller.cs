using LlmRouter.Keys;

namespace LlmRouter.Auth;

/// <summary>Who is calling, set by authentication for the rest of the request. No key = master key or no auth.</summary>
internal sealed record RequestCaller(KeyRecord? Key)
{
    public static readonly RequestCaller Master = new((KeyRecord?)null);

    public static RequestCaller Of(HttpContext context) => context.Features.Get<RequestCaller>() ?? Master;
}
