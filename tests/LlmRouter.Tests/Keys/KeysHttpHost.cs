using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using LlmRouter.Errors;
using LlmRouter.Hosting;
using LlmRouter.Keys;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LlmRouter.Tests.Keys;

/// <summary>The key APIs served in-process by Kestrel on a free loopback port, wired as Program.cs wires them.</summary>
internal sealed class KeysHttpHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private KeysHttpHost(WebApplication app, Uri address)
    {
        _app = app;
        Client = Create(address, KeysTestSupport.MasterKey);
        Address = address;
    }

    public Uri Address { get; }
    /// <summary>Sends the master key.</summary>
    public HttpClient Client { get; }
    public IServiceProvider Services => _app.Services;
    public KeyCache Cache => Services.GetRequiredService<KeyCache>();

    public static async Task<KeysHttpHost> StartAsync(string? databaseUrl, string? redisUrl = null, string? masterKey = KeysTestSupport.MasterKey,
        bool waitForSchema = true)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddLlmRouter(KeysTestSupport.Config(databaseUrl, redisUrl, masterKey));
        builder.Services.AddKeys();
        var app = builder.Build();
        app.UseMiddleware<ErrorHandlingMiddleware>();
        app.MapAdminKeysApi();
        app.MapLiteLlmKeyApi();
        await app.StartAsync();
        var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        var host = new KeysHttpHost(app, address);
        if (waitForSchema && databaseUrl is not null) await app.Services.GetRequiredService<LlmRouter.Data.DatabaseState>().WhenReady.WaitAsync(TimeSpan.FromSeconds(60));
        return host;
    }

    /// <summary>A client that sends <paramref name="bearer"/> (null = no Authorization header).</summary>
    public HttpClient ClientWith(string? bearer) => Create(Address, bearer);

    private static HttpClient Create(Uri address, string? bearer)
    {
        var client = new HttpClient { BaseAddress = address };
        if (bearer is not null) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>Reading answers in tests: status plus the JSON body.</summary>
internal static class HttpTestExtensions
{
    public static async Task<(int Status, JsonElement Body)> SendJsonAsync(this HttpClient client, HttpMethod method, string path, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is string raw) request.Content = new StringContent(raw, System.Text.Encoding.UTF8, "application/json");
        else if (body is not null) request.Content = JsonContent.Create(body);
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var json = text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
        return ((int)response.StatusCode, json);
    }

    public static Task<(int Status, JsonElement Body)> PostJsonAsync(this HttpClient client, string path, object? body = null) =>
        client.SendJsonAsync(HttpMethod.Post, path, body ?? new { });

    public static Task<(int Status, JsonElement Body)> GetJsonAsync(this HttpClient client, string path) => client.SendJsonAsync(HttpMethod.Get, path);

    public static string ErrorParam(this JsonElement body) => body.GetProperty("error").GetProperty("param").GetString() ?? "";

    public static string ErrorMessage(this JsonElement body) => body.GetProperty("error").GetProperty("message").GetString() ?? "";
}
