using Microsoft.Extensions.Logging;
using System.Collections.Concurrent;

namespace LlmRouter.Tests.Usage;

/// <summary>Keeps formatted log lines so a test can check what was said, and how often.</summary>
internal sealed class ListLogger : ILogger
{
    private readonly ConcurrentQueue<string> _messages = new();

    public IReadOnlyCollection<string> Messages => _messages;

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        _messages.Enqueue($"{logLevel}: {formatter(state, exception)}");
}

/// <summary>A <see cref="ListLogger"/> for a class that asks for its typed logger.</summary>
internal sealed class ListLogger<T> : ILogger<T>
{
    private readonly ListLogger _inner = new();

    public IReadOnlyCollection<string> Messages => _inner.Messages;

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        _inner.Log(logLevel, eventId, state, exception, formatter);
}
