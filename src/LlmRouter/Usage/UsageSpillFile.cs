using System.Buffers;
using System.Text.Json;

namespace LlmRouter.Usage;

/// <summary>
/// The local, append-only JSON-lines file for usage rows Postgres could not take yet. Appends are fsync'd per
/// batch. Replay renames the file to <c>.replay</c> first, so appends carry on into a fresh file while the old one
/// is read oldest first; replaying a file twice (after a crash) is harmless because inserts are idempotent.
/// Rows Postgres refuses outright (a data error) go to <c>.rejected</c> for a person to look at, never dropped.
/// </summary>
internal sealed class UsageSpillFile
{
    private readonly Lock _gate = new();
    private volatile bool _hasBacklog;

    public UsageSpillFile(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
        ReplayPath = Path + ".replay";
        RejectedPath = Path + ".rejected";
        _hasBacklog = File.Exists(ReplayPath) || IsNonEmpty(Path);
    }

    public string Path { get; }
    public string ReplayPath { get; }
    public string RejectedPath { get; }

    /// <summary>True while spilled rows wait for replay (kept in memory; a stat per loop would be wasteful).</summary>
    public bool HasBacklog => _hasBacklog;

    /// <summary>Appends the rows and fsyncs; throws if the disk refuses (the caller then keeps them in memory).</summary>
    public void Append(IReadOnlyList<UsageRecord> rows)
    {
        if (rows.Count == 0) return;
        lock (_gate)
        {
            AppendTo(Path, rows);
            _hasBacklog = true;
        }
    }

    public void Reject(IReadOnlyList<UsageRecord> rows)
    {
        lock (_gate) AppendTo(RejectedPath, rows);
    }

    /// <summary>Opens the oldest spilled rows for replay, skipping lines already replayed; null when there are none.</summary>
    public UsageReplayReader? OpenReplay(long skipLines)
    {
        lock (_gate)
        {
            if (!File.Exists(ReplayPath))
            {
                if (!IsNonEmpty(Path))
                {
                    _hasBacklog = false;
                    return null;
                }
                File.Move(Path, ReplayPath);
            }
        }
        var reader = new UsageReplayReader(ReplayPath);
        reader.Skip(skipLines);
        return reader;
    }

    /// <summary>The replay file is all in Postgres: delete it.</summary>
    public void CompleteReplay()
    {
        lock (_gate)
        {
            File.Delete(ReplayPath);
            _hasBacklog = IsNonEmpty(Path);
        }
    }

    private static void AppendTo(string path, IReadOnlyList<UsageRecord> rows)
    {
        var buffer = new ArrayBufferWriter<byte>(rows.Count * 400);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = UsageJsonContext.Default.Options.Encoder }))
        {
            foreach (var row in rows)
            {
                JsonSerializer.Serialize(writer, row, UsageJsonContext.Default.UsageRecord);
                writer.Flush();
                writer.Reset();
                buffer.Write("\n"u8);
            }
        }
        if (System.IO.Path.GetDirectoryName(path) is { Length: > 0 } directory) Directory.CreateDirectory(directory);
        using var file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, bufferSize: 0);
        // A hard kill may have cut the last line short; start on a fresh line so this batch stays readable.
        if (file.Length > 0)
        {
            file.Seek(-1, SeekOrigin.End);
            if (file.ReadByte() != '\n') file.WriteByte((byte)'\n');
        }
        file.Seek(0, SeekOrigin.End);
        file.Write(buffer.WrittenSpan);
        file.Flush(flushToDisk: true);
    }

    private static bool IsNonEmpty(string path) => new FileInfo(path) is { Exists: true, Length: > 0 };
}

/// <summary>Reads a replay file line by line; a line that does not parse (cut short by a crash) is counted and skipped.</summary>
internal sealed class UsageReplayReader(string path) : IDisposable
{
    private readonly StreamReader _reader = new(path, System.Text.Encoding.UTF8, detectEncodingFromByteOrderMarks: false, bufferSize: 64 * 1024);

    public long CorruptLines { get; private set; }

    public void Skip(long lines)
    {
        for (var i = 0; i < lines && _reader.ReadLine() is not null; i++) { }
    }

    /// <summary>Adds up to <paramref name="max"/> rows; returns the lines consumed (0 at the end of the file).</summary>
    public int ReadChunk(int max, List<UsageRecord> into)
    {
        var lines = 0;
        while (lines < max && _reader.ReadLine() is { } line)
        {
            lines++;
            if (line.Length == 0) continue;
            try
            {
                if (JsonSerializer.Deserialize(line, UsageJsonContext.Default.UsageRecord) is { } row) into.Add(row);
                else CorruptLines++;
            }
            catch (JsonException)
            {
                CorruptLines++;
            }
        }
        return lines;
    }

    public void Dispose() => _reader.Dispose();
}
