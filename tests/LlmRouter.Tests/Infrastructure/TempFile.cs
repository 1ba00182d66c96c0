namespace LlmRouter.Tests.Infrastructure;

/// <summary>A file in a fresh temp directory, deleted with the directory on dispose.</summary>
public sealed class TempFile : IDisposable
{
    private readonly string _directory;

    public TempFile(string fileName, string content)
    {
        _directory = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "llmrouter-tests", Guid.NewGuid().ToString("n"));
        Directory.CreateDirectory(_directory);
        Path = System.IO.Path.Combine(_directory, fileName);
        File.WriteAllText(Path, content);
    }

    public string Path { get; }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort; the OS cleans temp eventually.
        }
    }
}
