namespace LlmRouter.Tests.Infrastructure;

/// <summary>
/// Where this test process keeps its files: one directory per process under the system temp directory, deleted when
/// the process exits normally, so that a test that does not clean up after itself leaves nothing behind once the run
/// is over (a killed run leaves its directory).
/// </summary>
public static class TestTemp
{
    public static string Root { get; } = CreateRoot();

    /// <summary>A fresh path under <see cref="Root"/>, named after <paramref name="prefix"/>; nothing is created there.</summary>
    public static string NewPath(string prefix) => System.IO.Path.Combine(Root, $"{prefix}-{Guid.NewGuid():N}");

    /// <summary>A fresh, empty directory under <see cref="Root"/>.</summary>
    public static string NewDirectory(string prefix) => Directory.CreateDirectory(NewPath(prefix)).FullName;

    private static string CreateRoot()
    {
        var root = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "llmrouter-tests", $"run-{Environment.ProcessId}");
        Directory.CreateDirectory(root);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => DeleteQuietly(root);
        return root;
    }

    internal static void DeleteQuietly(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort; the OS cleans temp eventually.
        }
    }
}

/// <summary>A file in a fresh temp directory, deleted with the directory on dispose.</summary>
public sealed class TempFile : IDisposable
{
    private readonly string _directory;

    public TempFile(string fileName, string content)
    {
        _directory = TestTemp.NewDirectory("file");
        Path = System.IO.Path.Combine(_directory, fileName);
        File.WriteAllText(Path, content);
    }

    public string Path { get; }

    public void Dispose() => TestTemp.DeleteQuietly(_directory);
}
