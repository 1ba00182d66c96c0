using System.Buffers;
using System.IO.MemoryMappedFiles;
using System.Text.Json;

namespace LlmRouter.Usage;

/// <summary>
/// Keeps usage rows safe from a crash between <see cref="UsageWriter.Record"/> and their batch landing. The journal is
/// a ring of records in a memory-mapped file next to the spill file. Its pages are the kernel's page cache, so a row
/// copied in on the request path costs no system call, and a process that dies (kill -9, OOM) leaves what it copied
/// for the kernel to write back. A row is marked done once its batch is in Postgres or in the spill file. At the next
/// start, rows still pending are appended to the spill file and replayed from there. A machine that loses power can
/// still lose what the kernel had not written back yet.
/// </summary>
/// <remarks>
/// Records are found by their logical position: one that grows by each record's length for the life of the file, and
/// is never reused. A record's header starts with its own position, so a header left from an earlier lap, or none at
/// all where a dying process had reserved space, never passes for a record: a scan steps past such space 16 bytes at a
/// time. A record is written header-first with state 0, its payload next, and its state last.
/// </remarks>
internal sealed class UsageJournal : IDisposable
{
    private const long Magic = 0x314C_4E52_554F_4A52; // "RJOURNL1", little-endian
    private const int FileHeader = 4096;
    private const int RecordHeader = 16; // position (8), payload length (4), state (4)
    private const int Align = 16;
    private const int Writing = 0, Waiting = 1, Done = 2, Filler = 3;

    private static readonly JsonWriterOptions JsonOptions = new() { Encoder = UsageJsonContext.Default.Options.Encoder };

    [ThreadStatic] private static ArrayBufferWriter<byte>? t_buffer;
    [ThreadStatic] private static Utf8JsonWriter? t_json;

    private readonly FileStream _file;
    private readonly long _capacity;
    private readonly long _startTail;
    private readonly Lock _advance = new();
    private MemoryMappedFile? _map;
    private MemoryMappedViewAccessor? _view;
    private long _head, _tail;
    private long _full;

    private UsageJournal(FileStream file, long capacity, long startTail, List<UsageRecord> pending, long unreadable)
    {
        _file = file;
        _capacity = capacity;
        _startTail = startTail;
        Pending = pending;
        Unreadable = unreadable;
    }

    public string Path => _file.Name;

    /// <summary>Pending records whose payload did not parse (cut short as the process died).</summary>
    public long Unreadable { get; }

    /// <summary>Rows that went on unjournaled: the ring was full (or, never yet seen, the copy failed).</summary>
    public long Full => Interlocked.Read(ref _full);

    /// <summary>Rows a process that ended without finishing them left pending, oldest first; empty once started.</summary>
    public List<UsageRecord> Pending { get; }

    /// <summary>
    /// Opens (or creates) the journal and reads what an earlier process left pending. Nothing is written until
    /// <see cref="Start"/>, so until then a crash leaves the journal as it was. Throws <see cref="IOException"/> when
    /// another process holds it.
    /// </summary>
    public static UsageJournal Open(string path, long capacity)
    {
        capacity = Math.Max(64 * 1024, capacity / Align * Align);
        if (System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path)) is { Length: > 0 } directory) Directory.CreateDirectory(directory);
        var file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 0);
        try
        {
            var pending = new List<UsageRecord>();
            long unreadable = 0, startTail = capacity;
            if (ReadFileHeader(file) is ({ } oldCapacity, { } oldTail))
            {
                using var map = MemoryMappedFile.CreateFromFile(file, null, FileHeader + oldCapacity, MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: true);
                using var view = map.CreateViewAccessor(0, FileHeader + oldCapacity);
                unreadable = Scan(view, oldCapacity, oldTail, pending);
                // Every position the old file used is below this, so none of its headers can pass for a new record.
                startTail = oldTail + oldCapacity + capacity;
            }
            return new UsageJournal(file, capacity, startTail, pending, unreadable);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Starts a fresh ring; call it once the pending rows are safe elsewhere (the spill file). Until then the old
    /// records stay, so a crash in between recovers them again (replaying a row twice is harmless).
    /// </summary>
    public void Start()
    {
        // Written out, not left sparse: a page of a mapping the disk has no room for is a SIGBUS when first touched,
        // where a write now fails with an IOException the caller handles (no journal, said so).
        _file.SetLength(FileHeader + _capacity);
        _file.Position = 0;
        var zeros = new byte[64 * 1024];
        for (long written = 0; written < FileHeader + _capacity; written += zeros.Length)
            _file.Write(zeros, 0, (int)Math.Min(zeros.Length, FileHeader + _capacity - written));
        _file.Flush(flushToDisk: true);
        _map = MemoryMappedFile.CreateFromFile(_file, null, FileHeader + _capacity, MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: true);
        _view = _map.CreateViewAccessor(0, FileHeader + _capacity);
        _head = _tail = _startTail;
        // The zeros above cleared the old magic; it comes back last, once the header is whole.
        _view.Write(8, _capacity);
        _view.Write(16, _startTail);
        Interlocked.MemoryBarrier();
        _view.Write(0, Magic);
        _view.Flush();
        Pending.Clear();
    }

    /// <summary>Copies the row in; returns its mark for <see cref="MarkDone"/>, or 0 when the ring is full or not started.</summary>
    public long Append(UsageRecord row)
    {
        var view = _view;
        if (view is null) return 0;
        try
        {
            return AppendTo(view, row);
        }
        catch (Exception)
        {
            // Disposed as a request finished during shutdown, or anything else: the row goes on without the journal
            // (Record never throws), and space already reserved was given a filler header on the way out.
            return Refuse();
        }
    }

    private long AppendTo(MemoryMappedViewAccessor view, UsageRecord row)
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        var json = t_json ??= new Utf8JsonWriter(buffer, JsonOptions);
        json.Reset(buffer);
        JsonSerializer.Serialize(json, row, UsageJsonContext.Default.UsageRecord);
        json.Flush();
        var payload = buffer.WrittenSpan;
        var length = AlignUp(RecordHeader + payload.Length);
        if (length > _capacity / 8) return Refuse();
        while (true)
        {
            var tail = Volatile.Read(ref _tail);
            var head = Volatile.Read(ref _head);
            if (head + length - tail > _capacity) return Refuse();
            if (Interlocked.CompareExchange(ref _head, head + length, head) != head) continue;
            var offset = FileHeader + head % _capacity;
            if (head % _capacity + length > _capacity)
            {
                // It would run past the ring's end: the space is skipped, and the row goes at the start.
                WriteHeader(view, offset, head, length - RecordHeader, Filler);
                continue;
            }
            var written = false;
            try
            {
                WriteHeader(view, offset, head, payload.Length, Writing);
                view.SafeMemoryMappedViewHandle.WriteSpan((ulong)(view.PointerOffset + offset + RecordHeader), payload);
                Interlocked.MemoryBarrier();
                view.Write(offset + 12, Waiting);
                written = true;
                return head + 1;
            }
            finally
            {
                // A record left in state Writing would stop the tail for good.
                if (!written) WriteHeader(view, offset, head, length - RecordHeader, Filler);
            }
        }
    }

    /// <summary>The row of this mark is in Postgres or on disk; its space may be reused once every row before it is too.</summary>
    public void MarkDone(long mark)
    {
        if (mark <= 0 || _view is not { } view) return;
        try
        {
            var offset = FileHeader + (mark - 1) % _capacity;
            // Only its own record: a mark marked twice may find its space already reused.
            if (view.ReadInt64(offset) == mark - 1) view.Write(offset + 12, Done);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>Moves the ring's tail past the records that are done; called after a batch is marked.</summary>
    public void Advance()
    {
        if (_view is not { } view) return;
        try
        {
            AdvanceOn(view);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private void AdvanceOn(MemoryMappedViewAccessor view)
    {
        lock (_advance)
        {
            var tail = _tail;
            var head = Volatile.Read(ref _head);
            while (tail < head)
            {
                var offset = FileHeader + tail % _capacity;
                if (view.ReadInt64(offset) != tail) break; // reserved, its header not written yet
                Interlocked.MemoryBarrier();
                var state = view.ReadInt32(offset + 12);
                if (state is not (Done or Filler)) break;
                tail += AlignUp(RecordHeader + view.ReadInt32(offset + 8));
            }
            if (tail == _tail) return;
            // On disk first: a recovery scan starting from an older tail only meets records that are done.
            view.Write(16, tail);
            Volatile.Write(ref _tail, tail);
        }
    }

    public void Dispose()
    {
        _view?.Dispose();
        _map?.Dispose();
        _file.Dispose();
    }

    private long Refuse()
    {
        Interlocked.Increment(ref _full);
        return 0;
    }

    private static void WriteHeader(MemoryMappedViewAccessor view, long offset, long position, int payloadLength, int state)
    {
        view.Write(offset + 12, Writing);
        view.Write(offset + 8, payloadLength);
        Interlocked.MemoryBarrier();
        view.Write(offset, position);
        if (state == Writing) return;
        Interlocked.MemoryBarrier();
        view.Write(offset + 12, state);
    }

    private static (long? Capacity, long? Tail) ReadFileHeader(FileStream file)
    {
        if (file.Length < FileHeader) return (null, null);
        Span<byte> header = stackalloc byte[24];
        file.Position = 0;
        file.ReadExactly(header);
        var magic = BitConverter.ToInt64(header);
        var capacity = BitConverter.ToInt64(header[8..]);
        var tail = BitConverter.ToInt64(header[16..]);
        if (magic != Magic || capacity <= 0 || capacity % Align != 0 || tail < 0 || tail % Align != 0 || file.Length < FileHeader + capacity) return (null, null);
        return (capacity, tail);
    }

    /// <summary>Walks one lap from the tail: records that are pending are read back; unknown space is stepped over.</summary>
    private static long Scan(MemoryMappedViewAccessor view, long capacity, long tail, List<UsageRecord> pending)
    {
        long unreadable = 0;
        var payload = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            for (var position = tail; position < tail + capacity;)
            {
                var offset = FileHeader + position % capacity;
                var length = view.ReadInt32(offset + 8);
                var total = AlignUp(RecordHeader + (long)length);
                if (view.ReadInt64(offset) != position || length < 0 || total > capacity)
                {
                    position += Align;
                    continue;
                }
                if (view.ReadInt32(offset + 12) == Waiting)
                {
                    if (position % capacity + total > capacity) unreadable++;
                    else if (Read(view, offset + RecordHeader, length, ref payload) is { } row) pending.Add(row);
                    else unreadable++;
                }
                position += total;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(payload);
        }
        return unreadable;
    }

    private static UsageRecord? Read(MemoryMappedViewAccessor view, long offset, int length, ref byte[] buffer)
    {
        if (buffer.Length < length)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            buffer = ArrayPool<byte>.Shared.Rent(length);
        }
        var span = buffer.AsSpan(0, length);
        view.SafeMemoryMappedViewHandle.ReadSpan((ulong)(view.PointerOffset + offset), span);
        try
        {
            return JsonSerializer.Deserialize(span, UsageJsonContext.Default.UsageRecord);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static int AlignUp(int length) => (length + Align - 1) / Align * Align;

    private static long AlignUp(long length) => (length + Align - 1) / Align * Align;
}
