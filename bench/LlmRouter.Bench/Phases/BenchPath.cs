using System.Net;
using LlmRouter.Bench.Http;
using LlmRouter.Bench.Services;

namespace LlmRouter.Bench.Phases;

/// <summary>
/// One way to the backend, as the client sees it: the same OpenAI request to <c>/v1/chat/completions</c>, sent direct
/// to the backend, through nginx, or through LlmRouter (which translates it to Ollama's <c>/api/chat</c>).
/// </summary>
internal sealed record BenchPath(string Name, IPEndPoint Static, IPEndPoint Stream, byte[] StaticRequest, byte[] StreamRequest, BenchProcess? Proxy)
{
    public const string Direct = "direct";
    public const string Router = "LlmRouter";
    public const string Nginx = "nginx";

    public bool IsDirect => Name == Direct;

    public static BenchPath Create(string name, int staticPort, int streamPort, string staticModel, string streamModel, string? bearer, BenchProcess? proxy)
    {
        var staticEndpoint = new IPEndPoint(IPAddress.Loopback, staticPort);
        var streamEndpoint = new IPEndPoint(IPAddress.Loopback, streamPort);
        return new BenchPath(name, staticEndpoint, streamEndpoint,
            RawRequest.PostJson(staticEndpoint, "/v1/chat/completions", Body(staticModel, stream: false), bearer),
            RawRequest.PostJson(streamEndpoint, "/v1/chat/completions", Body(streamModel, stream: true), bearer),
            proxy);
    }

    private static string Body(string model, bool stream) =>
        $$"""{"model":"{{model}}","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Hello! Please say hello back."}],"stream":{{(stream ? "true" : "false")}}}""";
}
