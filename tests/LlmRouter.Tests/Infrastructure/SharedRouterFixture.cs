namespace LlmRouter.Tests.Infrastructure;

/// <summary>
/// The standard environment (two simulators, one router, no master key) started once for every test class
/// in <see cref="SharedRouterCollection"/>. Tests in the collection run one at a time; each resets the
/// simulators (records and knobs) before and after it runs, through <see cref="SharedRouterTest"/>.
/// </summary>
public sealed class SharedRouterFixture : IAsyncLifetime
{
    private RouterEnvironment? _environment;

    public RouterEnvironment Environment =>
        _environment ?? throw new InvalidOperationException("The shared router environment has not started.");

    public async Task InitializeAsync() => _environment = await RouterEnvironment.StartStandardAsync();

    public async Task DisposeAsync()
    {
        if (_environment is not null)
        {
            await _environment.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class SharedRouterCollection : ICollectionFixture<SharedRouterFixture>
{
    public const string Name = "Shared router";
}
