namespace LlmRouter.Bench.Services;

internal static class RepoPaths
{
    public static string Root()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LlmRouter.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("run from inside the repository");
    }

    public static string RouterDll => Path.Combine(Root(), "src/LlmRouter/bin/Release/net10.0/LlmRouter.dll");
    public static string SimulatorDll => Path.Combine(Root(), "tests/OllamaSimulator/bin/Release/net10.0/OllamaSimulator.dll");
}
