using System.Buffers;
using System.Text;
using LlmRouter.LiveState.Resp;

namespace LlmRouter.Tests.Unit;

/// <summary>RESP2 replies as the script pipe reads them, including replies split across reads.</summary>
public sealed class RespTests
{
    [Fact]
    public void TryRead_ScriptReply_ReadsNestedValues()
    {
        var value = Read("*5\r\n$2\r\nok\r\n:1\r\n:0\r\n*2\r\n$3\r\n1.5\r\n$-1\r\n-ERR oops\r\n");

        Assert.Equal(RespKind.Array, value.Kind);
        Assert.Equal("ok", value[0].Text);
        Assert.Equal(1, value[1].ToInt64());
        Assert.Equal(1.5, value[3][0].ToDouble());
        Assert.Equal(RespKind.Null, value[3][1].Kind);
        Assert.Equal(RespKind.Error, value[4].Kind);
        Assert.Equal("ERR oops", value[4].Text);
    }

    [Fact]
    public void TryRead_EveryPrefixOfAReply_AsksForMoreWithoutThrowing()
    {
        var whole = "*3\r\n$5\r\nhello\r\n:-42\r\n+OK\r\n"u8.ToArray();
        for (var length = 0; length < whole.Length; length++)
        {
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(whole, 0, length));
            Assert.False(RespValue.TryRead(ref reader, out _), $"a reply cut at {length} bytes was taken as complete");
        }
        Assert.Equal(-42, Read(whole)[1].Integer);
    }

    [Fact]
    public void TryRead_ReplySplitAcrossSegments_ReadsIt()
    {
        var first = new Segment("*2\r\n$4\r\nab"u8.ToArray());
        var last = first.Append("cd\r\n:7\r\n"u8.ToArray());
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length));

        Assert.True(RespValue.TryRead(ref reader, out var value));
        Assert.Equal("abcd", value[0].Text);
        Assert.Equal(7, value[1].Integer);
        Assert.Equal(0, reader.Remaining);
    }

    [Fact]
    public void WriteTo_Arguments_AreBulkStrings()
    {
        var output = new ArrayBufferWriter<byte>();
        ((RespArg)"héllo").WriteTo(output);
        ((RespArg)(-12L)).WriteTo(output);
        ((RespArg)0.25).WriteTo(output);

        Assert.Equal("$6\r\nhéllo\r\n$3\r\n-12\r\n$4\r\n0.25\r\n", Encoding.UTF8.GetString(output.WrittenSpan));
    }

    [Theory]
    [InlineData("127.0.0.1:6390", "127.0.0.1", 6390, null, 0, false)]
    [InlineData("redis.local:7000,password=s3cret,defaultDatabase=2,ssl=true", "redis.local", 7000, "s3cret", 2, true)]
    [InlineData("[::1]:6379,abortConnect=false", "::1", 6379, null, 0, false)]
    [InlineData("cache", "cache", 6379, null, 0, false)]
    public void Parse_Configuration_FindsEndpointAndOptions(string configuration, string host, int port, string? password, int database, bool ssl)
    {
        Assert.Equal(new RedisEndpoint(host, port, password, database, ssl), RedisEndpoint.Parse(configuration));
    }

    private static RespValue Read(string text) => Read(Encoding.UTF8.GetBytes(text));

    private static RespValue Read(byte[] bytes)
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
        Assert.True(RespValue.TryRead(ref reader, out var value));
        return value;
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(byte[] bytes) => Memory = bytes;

        public Segment Append(byte[] bytes)
        {
            var next = new Segment(bytes) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
