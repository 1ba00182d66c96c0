using System.Security.Cryptography;
using System.Text;
using LlmRouter.Hosting;
using LlmRouter.Keys;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LlmRouter.Tests.Keys;

/// <summary>The pure pieces of keys: secret format, durations, change messages, cache verdicts, log redaction.</summary>
public sealed class KeysUnitTests
{
    [Fact]
    public void Generate_MakesDistinct46CharacterUrlSafeSecrets()
    {
        var secrets = Enumerable.Range(0, 1000).Select(_ => KeySecret.Generate()).ToList();

        Assert.Equal(1000, secrets.Distinct().Count());
        Assert.All(secrets, s => Assert.True(KeySecret.HasValidShape(s), s));
        Assert.All(secrets, s => Assert.Equal(KeySecret.Length, s.Length));
        Assert.Equal("sk-AbCd", KeySecret.DisplayPrefixOf("sk-AbCdefghijklmnopqrstuvwxyz0123456789-_ABCDE"));
    }

    [Fact]
    public void SecretHash_IsTheSha256OfTheWholeSecret_AsLowerHex()
    {
        var secret = KeySecret.Generate();
        var expected = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

        Assert.Equal(expected, SecretHash.Of(secret).ToHex());
        Assert.Equal(SecretHash.Of(secret), SecretHash.FromHex(expected));
        Assert.DoesNotContain(expected, SecretHash.Of(secret).ToString());
    }

    [Theory]
    [InlineData("30s", 30)]
    [InlineData("10m", 600)]
    [InlineData("1h", 3600)]
    [InlineData("1d", 86400)]
    [InlineData("30d", 2592000)]
    [InlineData("2w", 1209600)]
    public void Durations_ParseLiteLlmForms(string text, long seconds)
    {
        Assert.True(Durations.TryParse(text, out var duration));
        Assert.Equal(TimeSpan.FromSeconds(seconds), duration);
        Assert.True(Durations.TryParse(Durations.Format(duration), out var again));
        Assert.Equal(duration, again);
    }

    [Theory]
    [InlineData("")]
    [InlineData("d")]
    [InlineData("0d")]
    [InlineData("-1d")]
    [InlineData("1y")]
    [InlineData("1mo")]
    [InlineData("1.5h")]
    [InlineData("99999999999999999d")]
    public void Durations_RejectOtherForms(string text) => Assert.False(Durations.TryParse(text, out _));

    [Fact]
    public void KeyChange_RoundTripsThroughItsMessage_AndRejectsGarbage()
    {
        var origin = Guid.NewGuid();
        var change = new KeyChange(KeyChangeKind.Rotated, Guid.NewGuid(), DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123),
            DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_360_123));

        Assert.True(KeyChange.TryParse(change.Serialize(origin), out var parsed, out var parsedOrigin));
        Assert.Equal(change, parsed);
        Assert.Equal(origin, parsedOrigin);
        Assert.True(KeyChange.TryParse(new KeyChange(KeyChangeKind.Revoked, Guid.NewGuid()).Serialize(origin), out var revoked, out _));
        Assert.Null(revoked.RotatedAt);
        foreach (var bad in new[] { null, "", "Revoked", "Exploded|" + Guid.NewGuid() + "|||" + origin, "Revoked|x|||" + origin })
            Assert.False(KeyChange.TryParse(bad, out _, out _));
    }

    [Fact]
    public void CachedSecret_Evaluate_InvalidWhenAnythingStopsTheKey()
    {
        var now = DateTimeOffset.UtcNow;
        var key = new KeyRecord { Id = Guid.NewGuid(), DisplayPrefix = "sk-abcd", ExpiresAt = now.AddHours(1) };
        var entry = new CachedSecret(key, false, now.AddDays(-1), now.AddMinutes(5), default, 1);

        Assert.Equal(KeyLookupStatus.Valid, entry.Evaluate(now).Status);
        Assert.Same(key, entry.Evaluate(now).Key);
        Assert.Equal(KeyLookupStatus.Invalid, (entry with { Revoked = true }).Evaluate(now).Status);
        Assert.Equal(KeyLookupStatus.Invalid, (entry with { Key = key with { Blocked = true } }).Evaluate(now).Status);
        Assert.Equal(KeyLookupStatus.Invalid, entry.Evaluate(now.AddMinutes(5)).Status);
        Assert.Equal(KeyLookupStatus.Invalid, (entry with { SecretExpiresAt = null }).Evaluate(now.AddHours(1)).Status);
        Assert.Equal(KeyLookupStatus.Valid, (entry with { SecretExpiresAt = null, Key = key with { ExpiresAt = null } }).Evaluate(now.AddYears(5)).Status);
        Assert.Equal(KeyLookupStatus.Invalid, CachedSecret.Unknown(now.AddSeconds(5), 2).Evaluate(now).Status);
    }

    [Theory]
    [InlineData("?key=sk-abc", "?key=[redacted]")]
    [InlineData("?api_key=anything&model=chat", "?api_key=[redacted]&model=chat")]
    [InlineData("?q=sk-abc&page=2", "?q=[redacted]&page=2")]
    [InlineData("?q=sk%2Dabc", "?q=[redacted]")]
    [InlineData("?page=1&size=10", "?page=1&size=10")]
    [InlineData("", "")]
    public void RedactQuery_HidesSecretValues(string query, string expected) =>
        Assert.Equal(expected, LogRedaction.RedactQuery(new QueryString(query.Length == 0 ? null : query)));

    [Fact]
    public void RedactPath_HidesSecretSegments()
    {
        Assert.Equal("/key/[redacted]/regenerate", LogRedaction.RedactPath(new PathString("/key/sk-abc/regenerate")));
        Assert.Equal("/admin/keys/123", LogRedaction.RedactPath(new PathString("/admin/keys/123")));
    }

    [Fact]
    public void Enforce_CapsFrameworkRequestLogs_WhateverTheConfigurationSays()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["LogLevel:Default"] = "Trace",
            ["LogLevel:Microsoft.AspNetCore"] = "Trace",
            ["LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics"] = "Trace",
            ["Capture:LogLevel:Default"] = "Trace",
            ["Capture:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics"] = "Debug",
            ["Capture:LogLevel:Microsoft.*"] = "Trace",
        }).Build();
        var services = new ServiceCollection().AddLogging(logging =>
        {
            logging.AddConfiguration(configuration);
            logging.AddProvider(new CaptureProvider());
            logging.KeepRequestUrlsOutOfFrameworkLogs();
        });
        using var provider = services.BuildServiceProvider();
        var factory = provider.GetRequiredService<ILoggerFactory>();

        Assert.False(factory.CreateLogger("Microsoft.AspNetCore.Hosting.Diagnostics").IsEnabled(LogLevel.Information));
        Assert.False(factory.CreateLogger("Microsoft.AspNetCore.Server.Kestrel.BadRequests").IsEnabled(LogLevel.Debug));
        Assert.True(factory.CreateLogger("Microsoft.AspNetCore.Hosting.Diagnostics").IsEnabled(LogLevel.Warning));
        Assert.True(factory.CreateLogger("LlmRouter.Requests").IsEnabled(LogLevel.Debug));
    }

    [ProviderAlias("Capture")]
    private sealed class CaptureProvider : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new EnabledLogger();

        public void Dispose()
        {
        }
    }

    /// <summary>Enabled for every level, so only the filter rules decide.</summary>
    private sealed class EnabledLogger : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
        }
    }
}
