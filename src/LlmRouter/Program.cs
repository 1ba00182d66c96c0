using LlmRouter.Auth;
using LlmRouter.Completions;
using LlmRouter.Configuration;
using LlmRouter.Data;
using LlmRouter.Errors;
using LlmRouter.Health;
using LlmRouter.Hosting;
using LlmRouter.Keys;
using LlmRouter.Metrics;
using LlmRouter.Models;
using LlmRouter.Usage;

NativeHeap.ReturnLargeBlocks();
OneCpu.Configure();
var migrateOnly = MigrateCommand.IsRequested(ref args);
// The content root holds no file the router reads (config.yaml comes from --config), so it points at the binaries:
// ASP.NET Core watches it recursively for appsettings changes, and a busy working directory would cost CPU all the time.
var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
var startup = StartupOptions.From(builder.Configuration);
RouterConfig config;
try
{
    config = ConfigLoader.Load(startup.ConfigPath, Environment.GetEnvironmentVariable, warning => Console.Error.WriteLine($"warning: {warning}"));
    startup.CheckExposure(config.General);
}
catch (ConfigException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}
if (migrateOnly) return await MigrateCommand.RunAsync(config.General);

builder.WebHost.UseUrls(startup.Urls);
InlineIo.Configure(builder.WebHost, config.General.InlineIo);
// Per-request framework logs would sit on the hot path (and print query strings); warnings and up only.
builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
builder.Logging.KeepRequestUrlsOutOfFrameworkLogs();
ServerRun.QuietHostStartErrors(builder.Logging);
// While this logger is on at any level, hosting starts an Activity and a log scope for every request (and HttpClient a
// child Activity for the backend call); it logs nothing we need, since RequestLogMiddleware and ErrorHandlingMiddleware log.
builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.AddServerHeader = false;
    kestrel.Limits.MaxRequestBodySize = config.General.MaxRequestBodyBytes;
});
builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = config.General.DrainTimeout);
builder.Services.AddOpenApi();
builder.Services.AddLlmRouter(config);
builder.Services.AddUsage();
builder.Services.AddKeys();

await using var app = builder.Build();
app.UseMiddleware<RequestLogMiddleware>();
app.UseMiddleware<ErrorHandlingMiddleware>();
app.UseMiddleware<RequestIdMiddleware>();

app.MapHealthApi();
app.MapMetricsApi();
app.MapOpenApi();
app.MapAdminKeysApi();
app.MapLiteLlmKeyApi();
app.MapGroup("/admin").AddEndpointFilter<AdminFilter>().WithTags("Admin: usage").MapUsageApi();
foreach (var (prefix, suffix) in new[] { ("/v1", "V1"), ("", "") })
{
    app.MapGroup(prefix)
        .AddEndpointFilter<ApiKeyFilter>()
        .WithTags("OpenAI")
        .MapCompletionsApi(suffix)
        .MapModelsApi(suffix);
}
var unmatched = new UnmatchedRoutes(app.Services.GetRequiredService<EndpointDataSource>());
// Every path, those that look like files too (MapFallback's default pattern leaves them to static files, which this has none of).
app.MapFallback("{**path}", (HttpContext context) => unmatched.Answer(context)).ExcludeFromDescription();

StartupLog.Write(app, config, startup);
return await ServerRun.RunAsync(app, startup.Urls);
