using LlmRouter.Configuration;
using StackExchange.Redis;

namespace LlmRouter.LiveState;

/// <summary>
/// The one Redis connection of the process (StackExchange.Redis 1.2.6, kept behind this class so an upgrade is one file).
/// Never blocks start-up: while Redis is away, <see cref="Database"/> is null and callers use process-local state;
/// the multiplexer reconnects by itself and <see cref="Reconnected"/> fires so callers can resynchronise.
/// </summary>
internal sealed partial class RedisConnection : IAsyncDisposable
{
    /// <summary>Every key the router writes starts with this, so one Redis can serve other tenants too.</summary>
    public const string Prefix = "llmr:";

    private readonly ILogger<RedisConnection> _logger;
    private readonly ConfigurationOptions? _configuration;
    private ConnectionMultiplexer? _multiplexer;
    private readonly Lock _startLock = new();
    private Task? _started;
    private int _reportedDown;

    public RedisConnection(GeneralSettings settings, ILogger<RedisConnection> logger)
    {
        _logger = logger;
        _configuration = settings.RedisUrl is { } url ? ToOptions(url) : null;
        CallTimeout = settings.RedisTimeout;
    }

    /// <summary>The longest a caller waits for a script's answer (<see cref="GeneralSettings.RedisTimeout"/>).</summary>
    public TimeSpan CallTimeout { get; }

    public bool IsConfigured => _configuration is not null;
    public bool IsConnected => _multiplexer?.IsConnected == true;

    /// <summary>Null while disconnected: the caller falls back to local state instead of waiting.</summary>
    public IDatabase? Database => _multiplexer is { IsConnected: true } m ? m.GetDatabase() : null;

    public ISubscriber? Subscriber => _multiplexer?.GetSubscriber();

    /// <summary>Raised after the connection comes back (and after the first successful connect).</summary>
    public event Action? Reconnected;

    /// <summary>Counts connects and reconnects, so a listener can tell a connection it has already handled from a new one.</summary>
    public int Connects => Volatile.Read(ref _connects);

    private int _connects;

    /// <summary>Connects once; every feature that needs Redis may call this, later calls share the first one's task.</summary>
    public Task StartAsync()
    {
        lock (_startLock) return _started ??= ConnectAsync();
    }

    private async Task ConnectAsync()
    {
        if (_configuration is null) return;
        var options = _configuration.Clone();
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = 2000;
        options.SyncTimeout = 2000;
        options.ConnectRetry = 1;
        options.KeepAlive = 5;
        options.ClientName = "llmrouter";
        _multiplexer = await ConnectionMultiplexer.ConnectAsync(options);
        // Replies complete their callers straight from the thread pool instead of one ordered queue per connection:
        // one thread hop less per command. Nothing here depends on the order replies are delivered in.
        _multiplexer.PreserveAsyncOrder = false;
        _multiplexer.ConnectionFailed += (_, e) =>
        {
            if (e.ConnectionType == ConnectionType.Interactive && Interlocked.Exchange(ref _reportedDown, 1) == 0) Log.Lost(_logger, e.FailureType.ToString());
        };
        _multiplexer.ConnectionRestored += (_, e) =>
        {
            if (e.ConnectionType != ConnectionType.Interactive) return;
            if (Interlocked.Exchange(ref _reportedDown, 0) == 1) Log.Restored(_logger);
            Interlocked.Increment(ref _connects);
            Reconnected?.Invoke();
        };
        if (_multiplexer.IsConnected)
        {
            Interlocked.Increment(ref _connects);
            Reconnected?.Invoke();
        }
        else if (Interlocked.Exchange(ref _reportedDown, 1) == 0) Log.Lost(_logger, "not reachable at start-up");
    }

    /// <summary>
    /// <c>redis://[[default]:password@]host:port[/db]</c> (<c>rediss://</c> for TLS) or StackExchange's own
    /// <c>host:port,options</c>. Built as options, not as StackExchange's text, so a password may hold any character.
    /// </summary>
    /// <exception cref="FormatException">The URL cannot be used; the message never repeats the password.</exception>
    internal static ConfigurationOptions ToOptions(string url)
    {
        if (!url.StartsWith("redis://", StringComparison.OrdinalIgnoreCase) && !url.StartsWith("rediss://", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                return ConfigurationOptions.Parse(url);
            }
            catch (ArgumentException)
            {
                throw new FormatException("not a redis:// URL, and not a StackExchange.Redis configuration (host:port,option=value,...)");
            }
        }
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Host.Length == 0)
            throw new FormatException("not a valid URL; expected redis://[:password@]host:port[/db]");
        var options = new ConfigurationOptions();
        options.EndPoints.Add(uri.Host, uri.Port > 0 ? uri.Port : 6379);
        if (uri.UserInfo.Length > 0)
        {
            var colon = uri.UserInfo.IndexOf(':');
            var user = Uri.UnescapeDataString(colon >= 0 ? uri.UserInfo[..colon] : "");
            // StackExchange.Redis 1.2.6 logs in with AUTH <password> only, which Redis checks against its default user.
            if (user.Length > 0 && user != "default")
                throw new FormatException($"the user '{user}': the Redis client in this router can only log in as Redis's default user; give its password as redis://:password@host:port");
            options.Password = Uri.UnescapeDataString(colon >= 0 ? uri.UserInfo[(colon + 1)..] : uri.UserInfo);
        }
        if (uri.AbsolutePath.Trim('/') is { Length: > 0 } db)
        {
            if (!int.TryParse(db, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var number))
                throw new FormatException($"the database '{db}' is not a number");
            options.DefaultDatabase = number;
        }
        options.Ssl = uri.Scheme.Equals("rediss", StringComparison.OrdinalIgnoreCase);
        return options;
    }

    public ValueTask DisposeAsync()
    {
        _multiplexer?.Dispose();
        return ValueTask.CompletedTask;
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Redis unavailable ({Reason}); using process-local counts until it returns")]
        public static partial void Lost(ILogger logger, string reason);

        [LoggerMessage(2, LogLevel.Information, "Redis connection restored; back to shared counts")]
        public static partial void Restored(ILogger logger);
    }
}

/// <summary>Redis went away between a caller's check and the call: handled like any other Redis failure.</summary>
internal sealed class RedisUnavailableException() : Exception("Redis is not connected.");
