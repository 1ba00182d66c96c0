using LlmRouter.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LlmRouter.Tests.Integration;

/// <summary>An invalid config stops the router at start-up with one line naming the file, the key and the problem.</summary>
public sealed class ConfigValidationTests(ITestOutputHelper output)
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(30);

    public static TheoryData<string, string, string?> InvalidConfigs => new()
    {
        // case name (also the file name), YAML, the key the error line must name (null: a syntax error has none)
        {
            "missing-api-base",
            """
            model_list:
              - model_name: chat
                litellm_params: { model: ollama_chat/llama3.1:8b }
            """,
            "api_base"
        },
        {
            "bad-url",
            """
            model_list:
              - model_name: chat
                litellm_params: { model: ollama_chat/llama3.1:8b, api_base: "not a url" }
            """,
            "api_base"
        },
        {
            "duplicate-ids",
            """
            model_list:
              - model_name: chat
                litellm_params: { model: ollama_chat/llama3.1:8b, api_base: http://127.0.0.1:9 }
                model_info: { id: same-id }
              - model_name: code
                litellm_params: { model: ollama_chat/qwen2.5-coder:14b, api_base: http://127.0.0.1:9 }
                model_info: { id: same-id }
            """,
            "id"
        },
        {
            "yaml-syntax",
            """
            model_list:
              - model_name: chat
                litellm_params: { model: ollama_chat/llama3.1:8b, api_base: http://127.0.0.1:9
            """,
            null
        },
    };

    [Theory]
    [MemberData(nameof(InvalidConfigs))]
    public async Task Config_Invalid_ExitsNonZeroNamingFileAndKey(string name, string yaml, string? key)
    {
        using var config = new TempFile($"{name}.yaml", yaml);
        await using var router = RouterProcess.StartExpectingFailure(config.Path);

        var exitCode = await router.WaitForExitAsync(ExitTimeout);
        output.WriteLine(router.Output.ToString());

        Assert.True(exitCode is not null, $"The router kept running with an invalid config ({name}).");
        Assert.NotEqual(0, exitCode);
        var lines = router.Output.Lines();
        Assert.True(
            lines.Any(l => l.Contains($"{name}.yaml", StringComparison.Ordinal) &&
                           (key is null || l.Contains(key, StringComparison.Ordinal))),
            $"No single output line names the file {name}.yaml{(key is null ? "" : $" and the key '{key}'")}.");
        Assert.DoesNotContain(lines, l => l.Contains("   at ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Config_UnknownKey_WarnsNamingItAndStarts()
    {
        var yaml = """
            model_list:
              - model_name: chat
                litellm_params: { model: ollama_chat/llama3.1:8b, api_base: http://127.0.0.1:9, frobnicate_level: 3 }
            general_settings:
              wobble_factor: true
            """;

        await using var router = await RouterProcess.StartAsync(yaml);
        output.WriteLine(router.Output.ToString());

        Assert.Contains(router.Output.Lines(), l => l.Contains("frobnicate_level", StringComparison.Ordinal));
        Assert.Contains(router.Output.Lines(), l => l.Contains("wobble_factor", StringComparison.Ordinal));
    }
}
