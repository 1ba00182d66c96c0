using System.Security.Cryptography;
using System.Text;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace LlmRouter.Configuration;

/// <summary>Reads LiteLLM-format config.yaml (the Ollama subset) into a validated <see cref="RouterConfig"/>.</summary>
internal static class ConfigLoader
{
    public static RouterConfig Load(string path, Func<string, string?> env, Action<string> warn)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException($"{path}: cannot read the file: {e.Message}");
        }
        return Parse(text, path, env, warn);
    }

    public static RouterConfig Parse(string yaml, string file, Func<string, string?> env, Action<string> warn)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException e)
        {
            throw new ConfigException($"{file}:{e.Start.Line}:{e.Start.Column}: YAML syntax error: {FirstLine(e.InnerException?.Message ?? e.Message)}");
        }
        var rootNode = stream.Documents.Count == 0 ? null : stream.Documents[0].RootNode;
        if (rootNode is not null and not YamlMappingNode)
            throw new ConfigException($"{file}: the top level must be a mapping with model_list");
        var variables = EnvironmentVariables(new YamlSection(file, "", rootNode as YamlMappingNode, env).Section("environment_variables"));
        // LiteLLM's environment_variables fill in what os.environ/NAME finds; the process's own environment wins.
        var root = new YamlSection(file, "", rootNode as YamlMappingNode,
            variables.Count == 0 ? env : name => env(name) ?? variables.GetValueOrDefault(name));
        root.Section("environment_variables");

        var sections = new List<YamlSection> { root };
        var deployments = ReadDeployments(root, sections);
        var general = ReadGeneral(root.Section("general_settings"), sections);
        if (general.DatabaseUrl is not null && general.MasterKey is null)
            throw new ConfigException($"{file}: general_settings.master_key: required when database_url is set (keys are minted with it)");
        var router = ReadRouter(root.Section("router_settings"), sections, deployments);
        // Accepted so a LiteLLM file loads unchanged, but nothing here is used yet.
        if (root.Section("litellm_settings").UnknownKeys().Any()) warn($"{file}: litellm_settings is not used by LlmRouter and is ignored");
        foreach (var section in sections)
        {
            foreach (var key in section.UnknownKeys()) warn($"{file}: {key}: unknown key, ignored");
        }
        return new RouterConfig { SourcePath = file, Deployments = deployments, General = general, Router = router };
    }

    /// <summary>The <c>environment_variables</c> mapping: names to single values (themselves may be <c>os.environ/…</c>).</summary>
    private static Dictionary<string, string> EnvironmentVariables(YamlSection section)
    {
        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in section.Keys())
        {
            if (section.String(name) is { } value) variables[name] = value;
        }
        return variables;
    }

    private static List<Deployment> ReadDeployments(YamlSection root, List<YamlSection> sections)
    {
        var entries = root.List("model_list");
        if (entries.Count == 0) throw root.Error("model_list", "missing or empty: at least one model is needed");
        var deployments = new List<Deployment>(entries.Count);
        var byId = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            sections.Add(entry);
            var modelName = entry.RequiredString("model_name");
            var litellm = entry.Section("litellm_params");
            var info = entry.Section("model_info");
            sections.Add(litellm);
            sections.Add(info);

            var model = litellm.RequiredString("model");
            var slash = model.IndexOf('/');
            var prefix = slash < 0 ? "" : model[..slash];
            var provider = prefix switch
            {
                "ollama_chat" or "ollama" => BackendProvider.Ollama,
                "openai" => throw litellm.Error("model", "the openai/ provider is not supported yet; use ollama_chat/ or ollama/"),
                _ => throw litellm.Error("model", $"'{model}' needs a provider prefix: ollama_chat/<model> or ollama/<model>"),
            };
            var backendModel = model[(slash + 1)..];
            if (backendModel.Length == 0) throw litellm.Error("model", "the model name after the provider prefix is empty");

            var apiBaseText = litellm.RequiredString("api_base");
            if (!Uri.TryCreate(apiBaseText, UriKind.Absolute, out var apiBase) || apiBase.Scheme is not ("http" or "https") || apiBase.Host.Length == 0)
            {
                // Not echoed when it may hold a password (user:password@, the scheme forgotten or not).
                throw litellm.Error("api_base", apiBaseText.Contains('@') ? "is not an http(s) URL" : $"'{apiBaseText}' is not an http(s) URL");
            }
            // Not echoed: it holds a password. The router would not send it, and readiness and logs show api_base.
            if (apiBase.UserInfo.Length > 0)
                throw litellm.Error("api_base", "must not hold credentials (user:password@): the router does not send them, and api_base shows in logs and /health/readiness");
            if (!apiBaseText.EndsWith('/')) apiBase = new Uri(apiBaseText + "/");

            var id = info.String("id") ?? HashId(prefix, backendModel, apiBase);
            if (byId.TryGetValue(id, out var other))
                throw info.Error("id", $"duplicate deployment id '{id}' (also {other}); give one of them a distinct model_info.id");
            byId[id] = entry.Path;

            deployments.Add(new Deployment
            {
                Id = id,
                ModelName = modelName,
                Provider = provider,
                Model = backendModel,
                ApiBase = apiBase,
                Rpm = litellm.Int("rpm"),
                Tpm = litellm.Int("tpm"),
                Weight = litellm.Number("weight"),
                MaxParallelRequests = litellm.Int("max_parallel_requests", min: 1),
                MaxInputTokens = info.Int("max_input_tokens", min: 1) ?? litellm.Int("max_input_tokens", min: 1),
                InputCostPerToken = litellm.Decimal("input_cost_per_token") ?? info.Decimal("input_cost_per_token"),
                OutputCostPerToken = litellm.Decimal("output_cost_per_token") ?? info.Decimal("output_cost_per_token"),
            });
        }
        return deployments;
    }

    /// <summary>A connection URL, refused at load (one line, never with its password) if it could not be used later.</summary>
    /// <summary>LiteLLM's <c>maximum_spend_logs_retention_period</c>: a duration such as <c>30d</c>, at least an hour.</summary>
    private static TimeSpan? Retention(YamlSection general)
    {
        const string key = "maximum_spend_logs_retention_period";
        if (general.String(key) is not { } text) return null;
        if (!Keys.Durations.TryParse(text, out var keep) || keep < TimeSpan.FromHours(1))
            throw general.Error(key, $"'{text}' is not a duration of an hour or more, such as 30d, 12w or 24h");
        return keep;
    }

    private static string? Checked(YamlSection section, string key, Func<string, object> use)
    {
        var url = section.String(key);
        if (url is null) return null;
        try
        {
            use(url);
        }
        catch (FormatException e)
        {
            throw section.Error(key, e.Message);
        }
        return url;
    }

    private static GeneralSettings ReadGeneral(YamlSection general, List<YamlSection> sections)
    {
        sections.Add(general);
        var defaults = new GeneralSettings();
        var maxMb = general.Number("max_request_size_mb", min: 0);
        if (maxMb is 0) throw general.Error("max_request_size_mb", "must be greater than 0");
        var journalMb = general.Number("usage_journal_mb", min: 0);
        if (journalMb is > 0 and < 0.0625 or > 1024) throw general.Error("usage_journal_mb", "must be 0 (no journal) or from 0.0625 (64 KiB) to 1024");
        var redisTimeout = general.Seconds("redis_timeout");
        if (redisTimeout > GeneralSettings.MaxRedisTimeout)
            throw general.Error("redis_timeout", $"must be at most {GeneralSettings.MaxRedisTimeout.TotalSeconds:0} (seconds)");
        return new GeneralSettings
        {
            MasterKey = general.String("master_key"),
            AllowUnauthenticated = general.Bool("allow_unauthenticated") ?? false,
            MaxRequestBodyBytes = maxMb is { } mb ? (long)(mb * 1024 * 1024) : defaults.MaxRequestBodyBytes,
            DrainTimeout = general.Seconds("drain_timeout") ?? defaults.DrainTimeout,
            RedisUrl = Checked(general, "redis_url", url => LiveState.RedisConnection.ToOptions(url)),
            RedisTimeout = redisTimeout ?? defaults.RedisTimeout,
            DatabaseUrl = Checked(general, "database_url", url => Data.Database.ToConnectionString(url)),
            UsageFlushInterval = general.Seconds("usage_flush_interval") ?? defaults.UsageFlushInterval,
            UsageSpillPath = general.String("usage_spill_path") ?? defaults.UsageSpillPath,
            UsageJournalBytes = journalMb is { } journal ? (long)(journal * 1024 * 1024) : defaults.UsageJournalBytes,
            UsageRetention = Retention(general),
            DefaultMaxTokens = general.Int("default_max_tokens", min: 1) ?? defaults.DefaultMaxTokens,
            InlineIo = general.Bool("inline_io") ?? defaults.InlineIo,
        };
    }

    private static RouterSettings ReadRouter(YamlSection router, List<YamlSection> sections, List<Deployment> deployments)
    {
        sections.Add(router);
        var defaults = new RouterSettings();
        var groups = deployments.Select(d => d.ModelName).ToHashSet(StringComparer.Ordinal);
        var strategyText = router.String("routing_strategy");
        var strategy = strategyText switch
        {
            null => defaults.RoutingStrategy,
            "least-busy" => RoutingStrategy.LeastBusy,
            "simple-shuffle" => RoutingStrategy.SimpleShuffle,
            "latency-based-routing" => RoutingStrategy.LatencyBased,
            "usage-based-routing" or "usage-based-routing-v2" => RoutingStrategy.UsageBased,
            _ => throw router.Error("routing_strategy",
                $"'{strategyText}' is not one of least-busy, simple-shuffle, latency-based-routing, usage-based-routing"),
        };
        return new RouterSettings
        {
            Timeout = router.Seconds("timeout") ?? defaults.Timeout,
            StreamTimeout = router.Seconds("stream_timeout"),
            ConnectTimeout = router.Seconds("connect_timeout") ?? defaults.ConnectTimeout,
            FirstTokenTimeout = router.Seconds("first_token_timeout") ?? defaults.FirstTokenTimeout,
            IdleTimeout = router.Seconds("idle_timeout") ?? defaults.IdleTimeout,
            RoutingStrategy = strategy,
            NumRetries = router.Int("num_retries", min: 0) ?? defaults.NumRetries,
            AllowedFails = router.Int("allowed_fails", min: 1) ?? defaults.AllowedFails,
            FailureWindow = router.Seconds("allowed_fails_window") ?? defaults.FailureWindow,
            CooldownTime = router.Seconds("cooldown_time") ?? defaults.CooldownTime,
            Fallbacks = CheckGroups(router, "fallbacks", router.GroupLists("fallbacks"), groups),
            ContextWindowFallbacks = CheckGroups(router, "context_window_fallbacks", router.GroupLists("context_window_fallbacks"), groups),
            ModelPollInterval = router.Seconds("model_poll_interval") ?? defaults.ModelPollInterval,
            HealthCheckInterval = router.Seconds("health_check_interval") ?? defaults.HealthCheckInterval,
            HealthCheckFall = router.Int("health_check_fall", min: 1) ?? defaults.HealthCheckFall,
            HealthCheckRise = router.Int("health_check_rise", min: 1) ?? defaults.HealthCheckRise,
            HealthCheckDeep = router.Bool("health_check_deep") ?? defaults.HealthCheckDeep,
            MaxParallelRequestsPerBackend = router.Int("max_parallel_requests_per_backend", min: 1),
            QueueSize = router.Int("queue_size", min: 0) ?? defaults.QueueSize,
            QueueTimeout = router.Seconds("queue_timeout") ?? defaults.QueueTimeout,
            LeaseTtl = router.Seconds("lease_ttl") ?? defaults.LeaseTtl,
            PrefetchAdmissions = router.Bool("prefetch_admissions") ?? defaults.PrefetchAdmissions,
        };
    }

    private static Dictionary<string, IReadOnlyList<string>> CheckGroups(YamlSection router, string key,
        Dictionary<string, IReadOnlyList<string>> map, HashSet<string> groups)
    {
        foreach (var (from, targets) in map)
        {
            foreach (var name in targets.Prepend(from))
            {
                if (!groups.Contains(name)) throw router.Error(key, $"'{name}' is not a model_name in model_list");
            }
        }
        return map;
    }

    /// <summary>Same inputs give the same id on every replica, so shared counters and usage rows agree.</summary>
    private static string HashId(string provider, string model, Uri apiBase)
    {
        var bytes = SHA256.HashData(Encoding.UTF8.GetBytes($"{provider}|{model}|{apiBase.AbsoluteUri}"));
        return Convert.ToHexStringLower(bytes.AsSpan(0, 8));
    }

    private static string FirstLine(string message)
    {
        var newline = message.IndexOfAny(['\r', '\n']);
        return newline < 0 ? message : message[..newline];
    }
}
