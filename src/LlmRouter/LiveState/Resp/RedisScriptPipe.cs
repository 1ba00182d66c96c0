using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;

namespace LlmRouter.LiveState.Resp;

/// <summary>
/// The live-state scripts' own Redis connection. Commands from concurrent requests go out together in one write
/// (pipelined) and replies are matched to callers in order; there is no thread of its own and no lock held across I/O.
/// StackExchange.Redis 1.2.6 hands every command to a dedicated writer thread (context switches and a lock convoy per
/// call), which cost more CPU than the rest of a request; its multiplexer still carries pub/sub and the heartbeat.
/// Never blocks a request: while disconnected, calls fail at once and the caller uses process-local counts; it
/// reconnects by itself and loads the scripts again on every new connection.
/// </summary>
internal sealed partial class RedisScriptPipe : IAsyncDisposable
{
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(2);
    /// <summary>A reply later than this means the connection is stuck: it is dropped and callers fall back.</summary>
    public static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(2);

    private readonly RedisEndpoint _endpoint;
    private readonly IReadOnlyList<LuaScript> _scripts;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _firstAttempt = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Session? _session;
    private Task? _loop;

    public RedisScriptPipe(RedisEndpoint endpoint, IReadOnlyList<LuaScript> scripts, ILogger logger)
    {
        _endpoint = endpoint;
        _scripts = scripts;
        _logger = logger;
    }

    public bool IsConnected => Volatile.Read(ref _session) is { IsAlive: true };

    /// <summary>Starts connecting in the background; completes after the first attempt (successful or not).</summary>
    public Task StartAsync()
    {
        _loop ??= Task.Run(() => ConnectLoopAsync(_stopping.Token));
        return _firstAttempt.Task;
    }

    /// <summary>Runs <paramref name="script"/> (EVALSHA; EVAL if Redis has lost it).</summary>
    /// <exception cref="RedisScriptException">Not connected, the connection failed or timed out, or Redis replied with an error.</exception>
    public async Task<RespValue> EvalAsync(LuaScript script, IReadOnlyList<string> keys, IReadOnlyList<RespArg> args)
    {
        var session = Volatile.Read(ref _session) ?? throw new RedisScriptException("Redis is not connected.");
        try
        {
            return await session.SendAsync(new EvalCommand(script, useSha: true, keys, args));
        }
        catch (RedisScriptException e) when (e.ServerError?.StartsWith("NOSCRIPT", StringComparison.Ordinal) == true)
        {
            // SCRIPT FLUSH, or a failover to a replica that never saw SCRIPT LOAD: the body loads it again.
            return await session.SendAsync(new EvalCommand(script, useSha: false, keys, args));
        }
    }

    private async Task ConnectLoopAsync(CancellationToken stopping)
    {
        var backoff = TimeSpan.FromMilliseconds(100);
        var wasConnected = false;
        var reportedDown = false;
        while (!stopping.IsCancellationRequested)
        {
            Session? session = null;
            try
            {
                session = await Session.OpenAsync(_endpoint, _scripts, stopping);
                Volatile.Write(ref _session, session);
                if (reportedDown) Log.Restored(_logger);
                wasConnected = true;
                reportedDown = false;
                backoff = TimeSpan.FromMilliseconds(100);
                _firstAttempt.TrySetResult();
                await session.Closed.WaitAsync(stopping);
                if (!stopping.IsCancellationRequested)
                {
                    Log.Lost(_logger, session.Failure?.Message ?? "closed");
                    reportedDown = true;
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (e is IOException or SocketException or RedisScriptException or TimeoutException or OperationCanceledException
                or System.Security.Authentication.AuthenticationException or InvalidDataException)
            {
                if (!reportedDown && !wasConnected) Log.Unreachable(_logger, e.Message);
                reportedDown = true;
                _firstAttempt.TrySetResult();
            }
            finally
            {
                Interlocked.CompareExchange(ref _session, null, session);
                session?.Dispose(new RedisScriptException("The Redis connection was closed."));
            }
            try
            {
                await Task.Delay(backoff, stopping);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        if (_loop is not null)
        {
            try
            {
                await _loop;
            }
            catch (OperationCanceledException)
            {
            }
        }
        Volatile.Read(ref _session)?.Dispose(new RedisScriptException("The Redis connection was closed."));
        _stopping.Dispose();
    }

    /// <summary>EVALSHA/EVAL script numkeys keys… args…</summary>
    private readonly struct EvalCommand(LuaScript script, bool useSha, IReadOnlyList<string> keys, IReadOnlyList<RespArg> args) : ICommand
    {
        public void WriteTo(IBufferWriter<byte> output)
        {
            RespArg.WriteLength(output, (byte)'*', 3 + keys.Count + args.Count);
            ((RespArg)(useSha ? "EVALSHA" : "EVAL")).WriteTo(output);
            ((RespArg)(useSha ? script.Sha1 : script.Body)).WriteTo(output);
            ((RespArg)(long)keys.Count).WriteTo(output);
            for (var i = 0; i < keys.Count; i++) ((RespArg)keys[i]).WriteTo(output);
            for (var i = 0; i < args.Count; i++) args[i].WriteTo(output);
        }
    }

    /// <summary>Any other command, as its words (connection set-up only).</summary>
    private readonly struct PlainCommand(params RespArg[] words) : ICommand
    {
        public void WriteTo(IBufferWriter<byte> output)
        {
            RespArg.WriteLength(output, (byte)'*', words.Length);
            foreach (var word in words) word.WriteTo(output);
        }
    }

    private interface ICommand
    {
        void WriteTo(IBufferWriter<byte> output);
    }

    /// <summary>One TCP (or TLS) connection: an outbox flushed by whichever caller finds it idle, and one reader loop.</summary>
    private sealed class Session
    {
        private readonly Socket _socket;
        private readonly Stream _stream;
        private readonly PipeReader _reader;
        private readonly Lock _gate = new();
        private readonly Queue<Pending> _awaiting = new();
        private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Timer _watchdog;
        private ArrayBufferWriter<byte> _outbox = new(4096);
        private ArrayBufferWriter<byte> _spare = new(4096);
        private bool _flushing;
        private Exception? _failure;

        private Session(Socket socket, Stream stream)
        {
            _socket = socket;
            _stream = stream;
            _reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 16 * 1024, minimumReadSize: 1024));
            _watchdog = new Timer(_ => CheckTimeout(), null, ReplyTimeout / 4, ReplyTimeout / 4);
            _ = ReadLoopAsync();
        }

        public Task Closed => _closed.Task;
        public bool IsAlive => Volatile.Read(ref _failure) is null;
        public Exception? Failure => Volatile.Read(ref _failure);

        public static async Task<Session> OpenAsync(RedisEndpoint endpoint, IReadOnlyList<LuaScript> scripts, CancellationToken cancellationToken)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(ConnectTimeout);
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            Session? session = null;
            try
            {
                await socket.ConnectAsync(endpoint.Host, endpoint.Port, timeout.Token);
                Stream stream = new NetworkStream(socket, ownsSocket: false);
                if (endpoint.Ssl)
                {
                    var tls = new SslStream(stream, leaveInnerStreamOpen: false);
                    await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = endpoint.Host }, timeout.Token);
                    stream = tls;
                }
                session = new Session(socket, stream);
                // Set-up goes out pipelined like everything else; the first failure fails the whole attempt.
                var setup = new List<Task<RespValue>>();
                if (endpoint.Password is { } password) setup.Add(session.SendAsync(new PlainCommand("AUTH", password)));
                if (endpoint.Database != 0) setup.Add(session.SendAsync(new PlainCommand("SELECT", (long)endpoint.Database)));
                setup.Add(session.SendAsync(new PlainCommand("CLIENT", "SETNAME", "llmrouter-scripts")));
                foreach (var script in scripts) setup.Add(session.SendAsync(new PlainCommand("SCRIPT", "LOAD", script.Body)));
                await Task.WhenAll(setup).WaitAsync(timeout.Token);
                return session;
            }
            catch
            {
                if (session is not null) session.Dispose(new RedisScriptException("Redis connection set-up failed."));
                else socket.Dispose();
                throw;
            }
        }

        public Task<RespValue> SendAsync<TCommand>(TCommand command) where TCommand : ICommand
        {
            var pending = new Pending();
            bool flush;
            lock (_gate)
            {
                if (_failure is { } failure) return Task.FromException<RespValue>(new RedisScriptException("The Redis connection failed.", failure));
                command.WriteTo(_outbox);
                _awaiting.Enqueue(pending);
                flush = !_flushing;
                _flushing = true;
            }
            if (flush) _ = FlushAsync();
            return pending.Task;
        }

        /// <summary>Writes whatever is queued, again and again until the outbox stays empty; callers that arrive meanwhile ride along.</summary>
        private async Task FlushAsync()
        {
            while (true)
            {
                ArrayBufferWriter<byte> batch;
                lock (_gate)
                {
                    if (_outbox.WrittenCount == 0 || _failure is not null)
                    {
                        _flushing = false;
                        return;
                    }
                    batch = _outbox;
                    _outbox = _spare;
                    _spare = batch;
                }
                try
                {
                    await _stream.WriteAsync(batch.WrittenMemory);
                }
                catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
                {
                    Dispose(e);
                    lock (_gate) _flushing = false;
                    return;
                }
                batch.ResetWrittenCount();
            }
        }

        private async Task ReadLoopAsync()
        {
            try
            {
                while (true)
                {
                    var result = await _reader.ReadAsync();
                    var buffer = result.Buffer;
                    var reader = new SequenceReader<byte>(buffer);
                    while (true)
                    {
                        var probe = reader;
                        if (!RespValue.TryRead(ref probe, out var value)) break;
                        reader = probe;
                        Pending pending;
                        lock (_gate)
                        {
                            if (!_awaiting.TryDequeue(out pending!)) throw new InvalidDataException("Redis sent a reply nobody asked for.");
                        }
                        pending.Complete(value);
                    }
                    _reader.AdvanceTo(reader.Position, buffer.End);
                    if (result.IsCompleted) throw new IOException("Redis closed the connection.");
                }
            }
            catch (Exception e)
            {
                Dispose(e);
            }
        }

        private void CheckTimeout()
        {
            bool late;
            lock (_gate) late = _awaiting.TryPeek(out var oldest) && Stopwatch.GetElapsedTime(oldest.StartedAt) > ReplyTimeout;
            if (late) Dispose(new TimeoutException($"Redis did not reply within {ReplyTimeout.TotalSeconds:0.#} s."));
        }

        /// <summary>Fails every waiting call and closes the connection; the first failure is the one remembered.</summary>
        public void Dispose(Exception failure)
        {
            Pending[] orphans;
            lock (_gate)
            {
                if (_failure is not null) return;
                _failure = failure;
                orphans = [.. _awaiting];
                _awaiting.Clear();
            }
            _watchdog.Dispose();
            foreach (var orphan in orphans) orphan.Fail(failure);
            try
            {
                _socket.Shutdown(SocketShutdown.Both);
            }
            catch (SocketException)
            {
            }
            catch (ObjectDisposedException)
            {
            }
            _stream.Dispose();
            _socket.Dispose();
            _closed.TrySetResult();
        }
    }

    private sealed class Pending
    {
        private readonly TaskCompletionSource<RespValue> _reply = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public long StartedAt { get; } = Stopwatch.GetTimestamp();
        public Task<RespValue> Task => _reply.Task;

        public void Complete(RespValue value)
        {
            if (value.Kind == RespKind.Error) _reply.TrySetException(new RedisScriptException($"Redis replied with an error: {value.Text}") { ServerError = value.Text });
            else _reply.TrySetResult(value);
        }

        public void Fail(Exception failure) =>
            _reply.TrySetException(failure as RedisScriptException ?? new RedisScriptException($"The Redis connection failed: {failure.Message}", failure));
    }

    private static partial class Log
    {
        [LoggerMessage(30, LogLevel.Warning, "Redis script connection lost ({Reason}); process-local counts until it is back")]
        public static partial void Lost(ILogger logger, string reason);

        [LoggerMessage(31, LogLevel.Information, "Redis script connection restored")]
        public static partial void Restored(ILogger logger);

        [LoggerMessage(32, LogLevel.Warning, "Redis not reachable for scripts ({Reason}); process-local counts until it is")]
        public static partial void Unreachable(ILogger logger, string reason);
    }
}
