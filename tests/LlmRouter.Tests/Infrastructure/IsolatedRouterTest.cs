using Xunit.Abstractions;

namespace LlmRouter.Tests.Infrastructure;

/// <summary>
/// Base class for tests that need their own simulators and router (fault injection, timing, a special
/// config): a fresh environment per test, so nothing one test breaks can leak into another.
/// </summary>
public abstract class IsolatedRouterTest(ITestOutputHelper output) : IAsyncLifetime
{
    private RouterEnvironment? _environment;
    private LogMarks? _marks;

    protected RouterEnvironment Env =>
        _environment ?? throw new InvalidOperationException("The environment has not started.");

    protected RouterProcess Router => Env.Router;

    protected ITestOutputHelper Output => output;

    /// <summary>Starts this test's environment; the default is one simulator behind "chat".</summary>
    protected virtual Task<RouterEnvironment> StartEnvironmentAsync() => RouterEnvironment.StartSingleBackendAsync();

    public async Task InitializeAsync()
    {
        _environment = await StartEnvironmentAsync();
        _marks = _environment.MarkLogs();
    }

    public async Task DisposeAsync()
    {
        _marks?.WriteTo(output);
        if (_environment is not null)
        {
            await _environment.DisposeAsync();
        }
    }
}
