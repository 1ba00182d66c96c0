namespace LlmRouter.Tests.EndToEnd;

/// <summary>
/// The end-to-end classes run one after another: each drives real Postgres, Redis, simulator and router processes,
/// and their timing figures mean more on a 2-core machine without a neighbour in the same suite competing.
/// </summary>
[CollectionDefinition(Name)]
public sealed class EndToEndCollection : ICollectionFixture<SharedStack>
{
    public const string Name = "EndToEnd";
}

/// <summary>One stack (two replicas) for the tests that break nothing; each test mints its own keys.</summary>
public sealed class SharedStack : IAsyncLifetime
{
    private KeyedStack? _stack;

    internal KeyedStack Stack => _stack ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync() => _stack = await KeyedStack.StartAsync();

    public async Task DisposeAsync()
    {
        if (_stack is not null) await _stack.DisposeAsync();
    }
}
