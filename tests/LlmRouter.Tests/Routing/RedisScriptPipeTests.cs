using LlmRouter.LiveState.Resp;
using LuaScript = LlmRouter.LiveState.Resp.LuaScript;
using LlmRouter.Tests.Services;
using Microsoft.Extensions.Logging.Abstractions;
using ConnectionMultiplexer = StackExchange.Redis.ConnectionMultiplexer;

namespace LlmRouter.Tests.Routing;

/// <summary>The hot path's own Redis connection against a real redis-server: pipelining, lost scripts, outages, stalls.</summary>
public sealed class RedisScriptPipeTests : IClassFixture<RedisFixture>
{
    private static readonly LuaScript Echo = new("return {KEYS[1], ARGV[1], tonumber(ARGV[2]) + 1}");
    private readonly RedisFixture _redis;

    public RedisScriptPipeTests(RedisFixture redis) => _redis = redis;

    [Fact]
    public async Task EvalAsync_ManyAtOnce_EachCallerGetsItsOwnReply()
    {
        await using var pipe = await ConnectAsync(_redis.Server);

        var calls = Enumerable.Range(0, 500).Select(i => pipe.EvalAsync(Echo, [$"key{i}"], [$"arg{i}", (long)i])).ToArray();
        var replies = await Task.WhenAll(calls);

        for (var i = 0; i < replies.Length; i++)
        {
            Assert.Equal($"key{i}", replies[i][0].Text);
            Assert.Equal($"arg{i}", replies[i][1].Text);
            Assert.Equal(i + 1, replies[i][2].Integer);
        }
    }

    [Fact]
    public async Task EvalAsync_ScriptFlushed_LoadsItAgainWithTheBody()
    {
        await using var pipe = await ConnectAsync(_redis.Server);
        await pipe.EvalAsync(Echo, ["k"], ["a", 1L]);
        using (var admin = await ConnectionMultiplexer.ConnectAsync(_redis.Server.Url + ",allowAdmin=true"))
        {
            await admin.GetServer(_redis.Server.Url).ScriptFlushAsync();
        }

        var reply = await pipe.EvalAsync(Echo, ["k"], ["a", 1L]);

        Assert.Equal(2, reply[2].Integer);
    }

    [Fact]
    public async Task EvalAsync_ScriptError_ThrowsWithTheServersMessage()
    {
        await using var pipe = await ConnectAsync(_redis.Server);

        var error = await Assert.ThrowsAsync<RedisScriptException>(() => pipe.EvalAsync(new LuaScript("return redis.call('NOPE')"), [], []));

        Assert.NotNull(error.ServerError);
        Assert.True(pipe.IsConnected, "an error reply must not drop the connection");
    }

    [Fact]
    public async Task EvalAsync_RedisStopsAndComesBack_FailsFastThenReconnects()
    {
        var server = await RedisServer.StartAsync();
        await using var pipe = await ConnectAsync(server);
        await server.StopAsync();

        await Assert.ThrowsAsync<RedisScriptException>(() => pipe.EvalAsync(Echo, ["k"], ["a", 1L]));
        await Eventually(() => !pipe.IsConnected, "the pipe to notice Redis is gone");
        await Assert.ThrowsAsync<RedisScriptException>(() => pipe.EvalAsync(Echo, ["k"], ["a", 1L]));

        await server.StartAgainAsync();
        await Eventually(() => pipe.IsConnected, "the pipe to reconnect");
        Assert.Equal(2, (await pipe.EvalAsync(Echo, ["k"], ["a", 1L]))[2].Integer);
        await server.DisposeAsync();
    }

    [Fact]
    public async Task EvalAsync_RedisStalls_FailsWithinTheReplyTimeout()
    {
        var server = await RedisServer.StartAsync();
        await using var pipe = await ConnectAsync(server);
        await server.PauseAsync();
        var started = DateTime.UtcNow;

        await Assert.ThrowsAsync<RedisScriptException>(() => pipe.EvalAsync(Echo, ["k"], ["a", 1L]));

        Assert.InRange(DateTime.UtcNow - started, TimeSpan.Zero, RedisScriptPipe.ReplyTimeout + TimeSpan.FromSeconds(1.5));
        Assert.False(pipe.IsConnected, "a stuck connection is dropped");
        await server.ResumeAsync();
        await Eventually(() => pipe.IsConnected, "the pipe to reconnect once Redis answers again");
        await server.DisposeAsync();
    }

    private static async Task<RedisScriptPipe> ConnectAsync(RedisServer server)
    {
        var pipe = new RedisScriptPipe(RedisEndpoint.Parse(server.Url), [Echo], NullLogger.Instance);
        await pipe.StartAsync();
        Assert.True(pipe.IsConnected, "the test Redis should be reachable");
        return pipe;
    }

    private static async Task Eventually(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"waited 20 s for {what}");
            await Task.Delay(50);
        }
    }
}
