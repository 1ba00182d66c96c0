using Xunit.Abstractions;

namespace LlmRouter.Tests.Infrastructure;

/// <summary>Positions in several process logs; writes what each logged since then to a test's output.</summary>
public sealed class LogMarks
{
    private readonly List<(OutputLog Log, string Name, long Mark)> _marks;

    public LogMarks(IEnumerable<(OutputLog Log, string Name)> logs) =>
        _marks = logs.Select(l => (l.Log, l.Name, l.Log.Mark())).ToList();

    /// <summary>xunit shows a test's output when it fails, so the processes' logs sit next to the assertion.</summary>
    public void WriteTo(ITestOutputHelper output)
    {
        foreach (var (log, name, mark) in _marks)
        {
            output.WriteLine($"----- {name} log during this test -----");
            output.WriteLine(log.Since(mark));
        }
    }
}
