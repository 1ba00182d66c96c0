using System.Globalization;
using System.Text;

namespace LlmRouter.Bench.Services;

/// <summary>nginx in its own prefix directory, one worker, in the foreground so the bench owns it.</summary>
internal sealed class NginxService : IAsyncDisposable
{
    private readonly BenchProcess _process;

    private NginxService(BenchProcess process) => _process = process;

    public BenchProcess Process => _process;

    /// <summary>
    /// The zero-delay backend of phases 1 and 4: precomputed answers for every path the router or a client asks
    /// (Ollama's final /api/chat JSON, an OpenAI chat.completion, and what discovery and health checks read).
    /// </summary>
    public static async Task<NginxService> StaticBackendAsync(string workDir, int port, int cpu)
    {
        var locations = new StringBuilder();
        foreach (var (path, body) in StaticAnswers.All)
        {
            locations.Append("    location = ").Append(path).Append(" { default_type application/json; return 200 '").Append(body).Append("'; }\n");
        }
        locations.Append("    location / { default_type text/plain; return 200 'Ollama is running'; }\n");
        var server = $$"""
              server {
                listen 127.0.0.1:{{port}} backlog=4096;
            {{locations}}  }
            """;
        return await StartAsync(Path.Combine(workDir, "nginx-static"), server, [port], cpu);
    }

    /// <summary>
    /// The reverse proxy the seed articles put in front of Ollama: least_conn, HTTP/1.1 keep-alive upstream, no buffering,
    /// one worker. Each listen port forwards everything, unchanged, to its upstream.
    /// </summary>
    public static async Task<NginxService> ProxyAsync(string workDir, IReadOnlyList<(int Listen, int Upstream)> routes, int cpu)
    {
        var servers = new StringBuilder();
        foreach (var (listen, upstream) in routes)
        {
            servers.Append(CultureInfo.InvariantCulture, $$"""
                  upstream ollama_{{upstream}} {
                    least_conn;
                    server 127.0.0.1:{{upstream}};
                    keepalive 64;
                    keepalive_requests 1000000;
                  }
                  server {
                    listen 127.0.0.1:{{listen}} backlog=4096;
                    location / {
                      proxy_pass http://ollama_{{upstream}};
                      proxy_http_version 1.1;
                      proxy_set_header Connection "";
                      proxy_set_header Host $host;
                      proxy_buffering off;
                      proxy_cache off;
                      proxy_read_timeout 600s;
                      proxy_send_timeout 600s;
                    }
                  }

                """);
        }
        return await StartAsync(Path.Combine(workDir, "nginx-proxy"), servers.ToString(), routes.Select(r => r.Listen).ToArray(), cpu);
    }

    private static async Task<NginxService> StartAsync(string prefix, string servers, int[] ports, int cpu)
    {
        Directory.CreateDirectory(Path.Combine(prefix, "logs"));
        Directory.CreateDirectory(Path.Combine(prefix, "temp"));
        var user = Environment.UserName == "root" ? "user root;\n" : "";
        var conf = $$"""
            {{user}}worker_processes 1;
            worker_rlimit_nofile 65536;
            pid {{prefix}}/nginx.pid;
            error_log {{prefix}}/logs/error.log warn;
            events {
              worker_connections 16384;
              multi_accept on;
            }
            http {
              access_log off;
              keepalive_requests 1000000;
              keepalive_timeout 120s;
              client_body_temp_path {{prefix}}/temp/body;
              proxy_temp_path {{prefix}}/temp/proxy;
              fastcgi_temp_path {{prefix}}/temp/fastcgi;
              uwsgi_temp_path {{prefix}}/temp/uwsgi;
              scgi_temp_path {{prefix}}/temp/scgi;
            {{servers}}
            }
            """;
        var confPath = Path.Combine(prefix, "nginx.conf");
        await File.WriteAllTextAsync(confPath, conf);
        var process = BenchProcess.Start("nginx", "nginx", ["-p", prefix, "-c", confPath, "-g", "daemon off;"], cpu);
        foreach (var port in ports) await process.WaitForPortAsync(port, TimeSpan.FromSeconds(15));
        return new NginxService(process);
    }

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}

/// <summary>What the static backend answers. No single quotes or dollar signs: they go inside nginx's <c>return</c>.</summary>
internal static class StaticAnswers
{
    public const string Model = "llama3.1:8b";
    private const string Digest = "46e0c10c039e019119339687c3c1757cc81b9da49709a3b3924863ba87ca666e";
    private const string Details = """{"parent_model":"","format":"gguf","family":"llama","families":["llama"],"parameter_size":"8.0B","quantization_level":"Q4_K_M"}""";

    public static readonly (string Path, string Body)[] All =
    [
        ("/api/chat", $$"""{"model":"{{Model}}","created_at":"2026-11-21T07:00:00.000000000Z","message":{"role":"assistant","content":"Hello! How can I help you today?"},"done_reason":"stop","done":true,"total_duration":123456789,"load_duration":1234567,"prompt_eval_count":12,"prompt_eval_duration":1234567,"eval_count":9,"eval_duration":12345678}"""),
        ("/api/generate", $$"""{"model":"{{Model}}","created_at":"2026-11-21T07:00:00.000000000Z","response":"Hello! How can I help you today?","done":true,"done_reason":"stop","total_duration":123456789,"load_duration":1234567,"prompt_eval_count":12,"prompt_eval_duration":1234567,"eval_count":9,"eval_duration":12345678}"""),
        ("/v1/chat/completions", $$$"""{"id":"chatcmpl-417","object":"chat.completion","created":1763708400,"model":"{{{Model}}}","system_fingerprint":"fp_ollama","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help you today?"},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":9,"total_tokens":21}}"""),
        ("/api/tags", $$"""{"models":[{"name":"{{Model}}","model":"{{Model}}","modified_at":"2026-11-01T00:00:00Z","size":4920753328,"digest":"{{Digest}}","details":{{Details}},"capabilities":["completion","tools"]}]}"""),
        ("/api/ps", $$"""{"models":[{"name":"{{Model}}","model":"{{Model}}","size":6654289920,"digest":"{{Digest}}","details":{{Details}},"expires_at":"2099-01-01T00:00:00Z","size_vram":6654289920,"context_length":8192}]}"""),
        ("/api/show", $$"""{"details":{{Details}},"model_info":{"general.architecture":"llama","llama.context_length":131072},"capabilities":["completion","tools"]}"""),
        ("/api/version", """{"version":"0.12.10"}"""),
    ];
}
