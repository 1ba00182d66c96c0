using LlmRouter.Configuration;

namespace LlmRouter.Tests.Unit;

public sealed class ConfigLoaderTests
{
    private const string Minimal = """
        model_list:
          - model_name: chat
            litellm_params: { model: ollama_chat/llama3.1:8b, api_base: http://10.0.1.10:11434 }
          - model_name: chat
            litellm_params: { model: ollama_chat/llama3.1:8b, api_base: http://10.0.1.11:11434 }
          - model_name: code
            litellm_params: { model: ollama/qwen2.5-coder:14b, api_base: http://10.0.1.10:11434 }
        general_settings:
          master_key: os.environ/TEST_MASTER_KEY
        """;

    private static RouterConfig Parse(string yaml, Dictionary<string, string>? env = null, List<string>? warnings = null) =>
        ConfigLoader.Parse(yaml, "test.yaml", name => env is not null && env.TryGetValue(name, out var v) ? v : null, w => warnings?.Add(w));

    private static string ErrorOf(string yaml) => Assert.Throws<ConfigException>(() => Parse(yaml)).Message;

    [Fact]
    public void Parse_UsageRetention_LiteLlmsDuration_AtLeastAnHour_AbsentKeepsEverything()
    {
        var env = new Dictionary<string, string> { ["TEST_MASTER_KEY"] = "sk-test" };
        Assert.Null(Parse(Minimal, env).General.UsageRetention);
        Assert.Equal(TimeSpan.FromDays(30), Parse(Minimal + "\n  maximum_spend_logs_retention_period: 30d\n", env).General.UsageRetention);
        foreach (var bad in new[] { "30m", "30", "soon" })
        {
            var error = Assert.Throws<ConfigException>(() => Parse(Minimal + $"\n  maximum_spend_logs_retention_period: \"{bad}\"\n", env)).Message;
            Assert.StartsWith("test.yaml: general_settings.maximum_spend_logs_retention_period: ", error);
        }
    }

    [Theory]
    [InlineData("database_url", "postgresql://app:s3cret@127.0.0.1:notaport/llmrouter")]
    [InlineData("database_url", "not a url")]
    [InlineData("database_url", "postgresql://app:s3cret@db.internal/llmrouter?sslmode=sometimes")]
    [InlineData("redis_url", "redis://:s3cret@127.0.0.1:notaport")]
    [InlineData("redis_url", "redis://app:s3cret@127.0.0.1:6379")]
    [InlineData("redis_url", "redis://:s3cret@127.0.0.1:6379/first")]
    public void Parse_ConnectionUrlItCouldNotUse_OneLineNamingTheKey_NeverThePassword(string key, string url)
    {
        var error = Assert.Throws<ConfigException>(() => Parse(Minimal + $"\n  {key}: \"{url}\"\n", new() { ["TEST_MASTER_KEY"] = "sk-test" })).Message;

        Assert.StartsWith($"test.yaml: general_settings.{key}: ", error);
        Assert.DoesNotContain("s3cret", error);
        Assert.DoesNotContain('\n', error);
    }

    [Fact]
    public void Parse_EnvironmentVariables_FillInOsEnviron_TheProcessEnvironmentWins()
    {
        var yaml = Minimal.Replace("general_settings:\n", "environment_variables:\n  TEST_MASTER_KEY: sk-from-file\n  REDIS_HOST_URL: redis://cache:6379\ngeneral_settings:\n")
            + "\n  redis_url: os.environ/REDIS_HOST_URL\n";
        var warnings = new List<string>();

        var fromFile = Parse(yaml, warnings: warnings);
        var fromProcess = Parse(yaml, new() { ["TEST_MASTER_KEY"] = "sk-from-process" });

        Assert.Equal(("sk-from-file", "redis://cache:6379"), (fromFile.General.MasterKey, fromFile.General.RedisUrl));
        Assert.Equal("sk-from-process", fromProcess.General.MasterKey);
        Assert.Empty(warnings);
    }

    [Theory]
    [InlineData("router_settings", "timeout", "5000000")]
    [InlineData("router_settings", "idle_timeout", "1e300")]
    [InlineData("general_settings", "drain_timeout", "90000")]
    public void Parse_TimeOverADay_Refused(string section, string key, string value)
    {
        var yaml = Minimal.Replace("general_settings:\n", section == "general_settings" ? $"general_settings:\n  {key}: {value}\n" : "general_settings:\n")
            + (section == "router_settings" ? $"\nrouter_settings:\n  {key}: {value}\n" : "");

        Assert.Equal($"test.yaml: {section}.{key}: must be at most 86400 (seconds: one day)", ErrorOf(yaml));
    }

    [Theory]
    [InlineData("verify-full", Npgsql.SslMode.VerifyFull)]
    [InlineData("verify-ca", Npgsql.SslMode.VerifyCA)]
    [InlineData("require", Npgsql.SslMode.Require)]
    [InlineData("disable", Npgsql.SslMode.Disable)]
    public void DatabaseUrl_LibpqSslModes_AreTaken(string name, Npgsql.SslMode mode)
    {
        var connection = new Npgsql.NpgsqlConnectionStringBuilder(LlmRouter.Data.Database.ToConnectionString($"postgresql://app:pw@db.internal:5433/llm?sslmode={name}"));

        Assert.Equal(mode, connection.SslMode);
        Assert.Equal(("db.internal", 5433, "llm", "app"), (connection.Host, connection.Port, connection.Database, connection.Username));
    }

    [Fact]
    public void RedisUrl_PasswordWithAnyCharacter_AndTheDefaultUser_AreTaken()
    {
        var options = LlmRouter.LiveState.RedisConnection.ToOptions("rediss://default:a%2Cb%3Dc%3Ad@cache.internal:6380/2");

        Assert.Equal("a,b=c:d", options.Password);
        Assert.Equal(2, options.DefaultDatabase);
        Assert.True(options.Ssl);
        Assert.Equal("cache.internal:6380", StackExchange.Redis.EndPointCollection.ToString(Assert.Single(options.EndPoints)));
    }

    [Fact]
    public void Parse_LiteLlmModelList_GroupsDeploymentsByModelName()
    {
        var config = Parse(Minimal);

        Assert.Equal(["chat", "code"], config.ModelGroups);
        Assert.Equal(3, config.Deployments.Count);
        Assert.All(config.Deployments, d => Assert.Equal(BackendProvider.Ollama, d.Provider));
        Assert.Equal("qwen2.5-coder:14b", config.Deployments[2].Model);
        Assert.Equal(new Uri("http://10.0.1.11:11434/"), config.Deployments[1].ApiBase);
    }

    [Fact]
    public void Parse_DeploymentIds_AreStableHashesUnlessGiven()
    {
        var first = Parse(Minimal);
        var again = Parse(Minimal);

        Assert.Equal(first.Deployments.Select(d => d.Id), again.Deployments.Select(d => d.Id));
        Assert.Equal(3, first.Deployments.Select(d => d.Id).Distinct().Count());

        var named = Parse("""
            model_list:
              - model_name: chat
                litellm_params: { model: ollama_chat/a, api_base: http://h:1 }
                model_info: { id: gpu-box-1 }
            """);
        Assert.Equal("gpu-box-1", named.Deployments[0].Id);
    }

    [Fact]
    public void Parse_InlineIo_OnUnlessTurnedOff()
    {
        var warnings = new List<string>();

        Assert.True(Parse(Minimal).General.InlineIo);
        Assert.False(Parse(Minimal + "\n  inline_io: false", warnings: warnings).General.InlineIo);
        Assert.Empty(warnings);
    }

    [Fact]
    public void Parse_PrefetchAdmissions_OnUnlessTurnedOff()
    {
        var warnings = new List<string>();

        Assert.True(Parse(Minimal).Router.PrefetchAdmissions);
        Assert.False(Parse(Minimal + "\nrouter_settings:\n  prefetch_admissions: false", warnings: warnings).Router.PrefetchAdmissions);
        Assert.Empty(warnings);
    }

    [Fact]
    public void Parse_EnvironmentReference_ResolvesOrCountsAsAbsent()
    {
        Assert.Null(Parse(Minimal).General.MasterKey);
        Assert.Equal("sk-x", Parse(Minimal, new() { ["TEST_MASTER_KEY"] = "sk-x" }).General.MasterKey);
    }

    [Fact]
    public void Parse_UnknownKeys_WarnNamingThem()
    {
        var warnings = new List<string>();
        Parse(Minimal + "\n  colour: blue\nrouter_settings:\n  timeout: 30\n  sparkle: 1\n", warnings: warnings);

        Assert.Contains(warnings, w => w.Contains("general_settings.colour"));
        Assert.Contains(warnings, w => w.Contains("router_settings.sparkle"));
        Assert.DoesNotContain(warnings, w => w.Contains("timeout"));
    }

    [Fact]
    public void Parse_MissingApiBase_NamesFileAndKey()
    {
        var message = ErrorOf("model_list:\n  - model_name: chat\n    litellm_params: { model: ollama_chat/a }\n");
        Assert.Equal("test.yaml: model_list[0].litellm_params.api_base: missing", message);
    }

    [Fact]
    public void Parse_BadUrl_NamesFileAndKey()
    {
        var message = ErrorOf("model_list:\n  - model_name: chat\n    litellm_params: { model: ollama_chat/a, api_base: 'not a url' }\n");
        Assert.StartsWith("test.yaml: model_list[0].litellm_params.api_base: 'not a url' is not an http(s) URL", message);
    }

    [Fact]
    public void Parse_CredentialsInApiBase_AreRefused_WithoutEchoingThem()
    {
        var message = ErrorOf("model_list:\n  - model_name: chat\n    litellm_params: { model: ollama_chat/a, api_base: 'http://ollama:Secret_b7@10.0.0.5:11434' }\n");
        Assert.StartsWith("test.yaml: model_list[0].litellm_params.api_base: must not hold credentials", message);
        Assert.DoesNotContain("Secret_b7", message);
        // The scheme forgotten: not a URL either way, and still not echoed.
        var schemeless = ErrorOf("model_list:\n  - model_name: chat\n    litellm_params: { model: ollama_chat/a, api_base: 'ollama:Secret_b7@10.0.0.5:11434' }\n");
        Assert.StartsWith("test.yaml: model_list[0].litellm_params.api_base: is not an http(s) URL", schemeless);
        Assert.DoesNotContain("Secret_b7", schemeless);
    }

    [Fact]
    public void Parse_DuplicateDeployment_IsRefused()
    {
        var message = ErrorOf("""
            model_list:
              - model_name: chat
                litellm_params: { model: ollama_chat/a, api_base: http://h:1 }
              - model_name: other
                litellm_params: { model: ollama_chat/a, api_base: http://h:1/ }
            """);
        Assert.Contains("model_list[1].model_info.id: duplicate deployment id", message);
    }

    [Fact]
    public void Parse_YamlSyntaxError_NamesFileAndPosition()
    {
        var message = ErrorOf("model_list:\n  - model_name: [chat\n");
        Assert.StartsWith("test.yaml:", message);
        Assert.Contains("YAML syntax error", message);
        Assert.DoesNotContain("\n", message);
    }

    [Fact]
    public void Parse_UnknownProvider_IsRefused()
    {
        var message = ErrorOf("model_list:\n  - model_name: chat\n    litellm_params: { model: llama3, api_base: http://h:1 }\n");
        Assert.Contains("model_list[0].litellm_params.model", message);
    }

    [Fact]
    public void Parse_Timeouts_InSecondsWithDocumentedDefaults()
    {
        var config = Parse(Minimal + "\nrouter_settings:\n  timeout: 30\n  idle_timeout: 2.5\n");

        Assert.Equal(TimeSpan.FromSeconds(30), config.Router.Timeout);
        Assert.Equal(TimeSpan.FromSeconds(2.5), config.Router.IdleTimeout);
        Assert.Equal(TimeSpan.FromSeconds(5), config.Router.ConnectTimeout);
        Assert.Equal(TimeSpan.FromSeconds(300), config.Router.FirstTokenTimeout);
        Assert.Null(config.Router.StreamTimeout);
        Assert.Equal(TimeSpan.FromSeconds(1), config.General.RedisTimeout);
        Assert.Equal(TimeSpan.FromSeconds(0.25), Parse(Minimal + "\n  redis_timeout: 0.25").General.RedisTimeout);
        Assert.Contains("general_settings.redis_timeout: must be greater than 0", ErrorOf(Minimal + "\n  redis_timeout: 0"));
        Assert.Contains("general_settings.redis_timeout: must be at most 5 (seconds)", ErrorOf(Minimal + "\n  redis_timeout: 30"));
    }

    [Fact]
    public void Parse_UsageJournalMb_DefaultFourOffAtZero_BoundsChecked()
    {
        Assert.Equal(4 * 1024 * 1024, Parse(Minimal).General.UsageJournalBytes);
        Assert.Equal(0, Parse(Minimal + "\n  usage_journal_mb: 0").General.UsageJournalBytes);
        Assert.Equal(16 * 1024 * 1024, Parse(Minimal + "\n  usage_journal_mb: 16").General.UsageJournalBytes);
        Assert.Contains("general_settings.usage_journal_mb: must be 0 (no journal) or from 0.0625 (64 KiB) to 1024", ErrorOf(Minimal + "\n  usage_journal_mb: 0.01"));
        Assert.Contains("general_settings.usage_journal_mb: must be 0 (no journal) or from 0.0625 (64 KiB) to 1024", ErrorOf(Minimal + "\n  usage_journal_mb: 4096"));
        Assert.Contains("general_settings.usage_journal_mb: must be at least 0", ErrorOf(Minimal + "\n  usage_journal_mb: -1"));
    }

    [Fact]
    public void Parse_NegativeLimit_IsRefused()
    {
        var message = ErrorOf("model_list:\n  - model_name: chat\n    litellm_params: { model: ollama_chat/a, api_base: http://h:1, max_parallel_requests: 0 }\n");
        Assert.Contains("max_parallel_requests: must be at least 1", message);
    }

    [Fact]
    public void Parse_ShippedConfig_Loads()
    {
        var path = Path.Combine(RepoRoot(), "config.yaml");
        var config = ConfigLoader.Load(path, _ => null, _ => { });

        Assert.Contains("chat", config.ModelGroups);
        Assert.Contains("code", config.ModelGroups);
        Assert.Contains("embed", config.ModelGroups);
        Assert.Null(config.General.MasterKey);
    }

    internal static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LlmRouter.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("LlmRouter.sln not found above " + AppContext.BaseDirectory);
    }
}
