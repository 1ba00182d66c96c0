using Xunit.Abstractions;

namespace LlmRouter.Tests.Infrastructure;

/// <summary>
/// Base class for tests on the shared environment: starts each test with clean simulator records and
/// the startup knobs, restores the knobs afterwards, and prints the processes' logs for the test.
/// </summary>
[Collection(SharedRouterCollection.Name)]
public abstract class SharedRouterTest(SharedRouterFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    private LogMarks? _marks;

    protected RouterEnvironment Env => fixture.Environment;

    protected RouterProcess Router => fixture.Environment.Router;

    protected ITestOutputHelper Output => output;

    public async Task InitializeAsync()
    {
        Env.EnsureRunning();
        await Env.ResetSimulatorsAsync();
        _marks = Env.MarkLogs();
    }

    public async Task DisposeAsync()
    {
        _marks?.WriteTo(output);
        Env.EnsureRunning();
        await Env.ResetSimulatorsAsync();
    }
}
