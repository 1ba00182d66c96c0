namespace OllamaSimulator.Recording;

/// <summary>What the simulator saw of one request, as listed by <c>GET /_sim/requests</c>.</summary>
internal sealed class RequestRecord(
    long id,
    int epoch,
    string method,
    string path,
    KeyValuePair<string, string>[] headers,
    byte[] body,
    DateTimeOffset receivedAt,
    bool isGeneration)
{
    private int _tokensSent;

    public long Id => id;
    public int Epoch => epoch;
    public string Method => method;
    public string Path => path;
    public KeyValuePair<string, string>[] Headers => headers;
    public byte[] Body => body;
    public DateTimeOffset ReceivedAt => receivedAt;
    public bool IsGeneration => isGeneration;
    public int TokensSent => Volatile.Read(ref _tokensSent);

    // Written only under the log's lock.
    public Outcome Outcome { get; set; } = Outcome.Active;
    public int Status { get; set; }

    public void AddToken() => Interlocked.Increment(ref _tokensSent);
}
