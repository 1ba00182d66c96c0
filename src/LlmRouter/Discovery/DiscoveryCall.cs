using System.Text.Json;

namespace LlmRouter.Discovery;

/// <summary>Turns whatever a discovery or health call threw into the one line readiness and the logs show.</summary>
internal static class DiscoveryCall
{
    public static string Describe(Exception e, TimeSpan timeout) => e switch
    {
        OperationCanceledException => $"timed out after {timeout.TotalSeconds:0.###} s",
        BackendAnswerException => e.Message,
        // .NET's message usually names the cause already ("Connection refused (host:port)"); a generic one does not.
        HttpRequestException { InnerException: { } inner } when !e.Message.Contains(inner.Message, StringComparison.Ordinal) => $"{e.Message} ({inner.Message})",
        HttpRequestException => e.Message,
        JsonException => $"unreadable answer: {e.Message}",
        _ => $"{e.GetType().Name}: {e.Message}",
    };

    /// <summary>Runs one call under its own timeout; the error line on failure, null on success. Throws only when <paramref name="stopping"/> fires.</summary>
    public static async Task<(T? Value, string? Error)> TryAsync<T>(
        Func<CancellationToken, Task<T>> call, TimeSpan timeout, CancellationToken stopping)
    {
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        // Real time, not the injected clock: this bounds real network I/O.
        timer.CancelAfter(timeout);
        try
        {
            return (await call(timer.Token), null);
        }
        catch (Exception e) when (!stopping.IsCancellationRequested)
        {
            return (default, Describe(e, timeout));
        }
    }
}
