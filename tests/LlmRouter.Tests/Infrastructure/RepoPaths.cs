namespace LlmRouter.Tests.Infrastructure;

/// <summary>
/// Finds the repository and the build outputs of the router and the simulator, using the same
/// Configuration (Debug/Release) the test assembly was built with.
/// </summary>
public static class RepoPaths
{
    private static readonly Lazy<string> LazyRoot = new(FindRoot);

    public static string Root => LazyRoot.Value;

    /// <summary>The Configuration folder name in the test assembly's path: bin/&lt;Configuration&gt;/net10.0/.</summary>
    public static string Configuration
    {
        get
        {
            var assemblyDir = Path.GetDirectoryName(typeof(RepoPaths).Assembly.Location)!;
            return new DirectoryInfo(assemblyDir).Parent!.Name;
        }
    }

    public static string RouterDll => BuildOutput("src/LlmRouter", "LlmRouter.dll");

    public static string SimulatorDll => BuildOutput("tests/OllamaSimulator", "OllamaSimulator.dll");

    private static string BuildOutput(string projectDir, string dll)
    {
        var path = Path.Combine(Root, projectDir, "bin", Configuration, "net10.0", dll);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException(
                $"{dll} not found at {path}; build with `dotnet build tests/LlmRouter.Tests -c {Configuration}` first.", path);
        }

        return path;
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LlmRouter.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"LlmRouter.sln not found above {AppContext.BaseDirectory}.");
    }
}
