using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using OllamaSimulator;
using OllamaSimulator.Control;
using OllamaSimulator.Http;
using OllamaSimulator.Native;
using OllamaSimulator.OpenAi;
using OllamaSimulator.Recording;
using OllamaSimulator.Startup;

// A standalone fake Ollama for tests and benchmarks. See README.md for the command line and /_sim/ endpoints.
var (startup, error) = CommandLine.Parse(args);
if (startup is null)
{
    Console.Error.WriteLine(error);
    return 2;
}

// The args are ours alone: they are not handed to ASP.NET Core's configuration.
var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace); // stdout carries only LISTENING
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.AddServerHeader = false;
    kestrel.Limits.MaxRequestBodySize = null; // image payloads can be large
    kestrel.Listen(startup.Address, startup.Port);
});
builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(2));
builder.Services.AddSingleton(new SimState(startup));

var app = builder.Build();
app.UseGinStatusPages();
app.UseMiddleware<RecordingMiddleware>();
app.UseMiddleware<ApiErrorMiddleware>();
app.MapNativeApi();
app.MapOpenAiApi();
app.MapControlApi();

await app.StartAsync();
var port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
var host = startup.Address.Equals(IPAddress.Any) || startup.Address.Equals(IPAddress.IPv6Any) ? "127.0.0.1"
    : startup.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{startup.Address}]"
    : startup.Address.ToString();
Console.WriteLine($"LISTENING http://{host}:{port}");
Console.Out.Flush();
await app.WaitForShutdownAsync();
return 0;
