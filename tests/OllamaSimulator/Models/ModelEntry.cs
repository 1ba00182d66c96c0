using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace OllamaSimulator.Models;

/// <summary>
/// One held model. The metadata is made up but deterministic (derived from the name), so tags, ps and show
/// answer the same across runs.
/// </summary>
internal sealed record ModelEntry(
    string Name,
    DateTimeOffset ModifiedAt,
    bool IsEmbedding,
    string Family,
    string ParameterSize,
    long ParameterCount,
    string Quantization,
    long Size,
    string Digest)
{
    private static readonly string[] CompletionCapabilities = ["completion", "tools"];
    private static readonly string[] EmbeddingCapabilities = ["embedding"];

    public string Key => ModelName.Key(Name);

    public IReadOnlyList<string> Capabilities => IsEmbedding ? EmbeddingCapabilities : CompletionCapabilities;

    public bool Can(string capability) => Capabilities.Contains(capability);

    public static ModelEntry Create(string name, DateTimeOffset modifiedAt)
    {
        var tagged = ModelName.WithTag(name);
        var lower = tagged.ToLowerInvariant();
        var embedding = lower.Contains("embed", StringComparison.Ordinal);
        var parameters = ParametersFromTag(lower) ?? (embedding ? 137_000_000L : 7_240_000_000L);
        var quantization = embedding ? "F16" : "Q4_K_M";
        var bytesPerParameter = embedding ? 2.0 : 0.6;
        return new ModelEntry(
            tagged,
            modifiedAt,
            embedding,
            FamilyOf(lower, embedding),
            FormatParameters(parameters),
            parameters,
            quantization,
            (long)(parameters * bytesPerParameter),
            Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(lower))));
    }

    /// <summary>A copy under another name, as <c>/api/copy</c> makes it.</summary>
    public ModelEntry CopyAs(string name, DateTimeOffset modifiedAt) => this with { Name = ModelName.WithTag(name), ModifiedAt = modifiedAt };

    private static string FamilyOf(string name, bool embedding)
    {
        if (embedding) return name.Contains("nomic", StringComparison.Ordinal) ? "nomic-bert" : "bert";
        if (name.Contains("qwen", StringComparison.Ordinal)) return "qwen2";
        if (name.Contains("gemma", StringComparison.Ordinal)) return "gemma3";
        if (name.Contains("phi", StringComparison.Ordinal)) return "phi3";
        return "llama";
    }

    // "llama3.1:8b" → 8e9, "qwen2.5:0.5b" → 5e8, "x:latest" → null.
    private static long? ParametersFromTag(string name)
    {
        var colon = name.LastIndexOf(':');
        var tag = name[(colon + 1)..];
        var end = 0;
        while (end < tag.Length && (char.IsAsciiDigit(tag[end]) || tag[end] == '.')) end++;
        if (end == 0 || end >= tag.Length) return null;
        if (!double.TryParse(tag[..end], NumberStyles.Float, CultureInfo.InvariantCulture, out var n)) return null;
        return tag[end] switch
        {
            'b' => (long)(n * 1e9),
            'm' => (long)(n * 1e6),
            _ => null,
        };
    }

    private static string FormatParameters(long n) =>
        n >= 1_000_000_000
            ? (n / 1e9).ToString("0.0", CultureInfo.InvariantCulture) + "B"
            : (n / 1e6).ToString("0", CultureInfo.InvariantCulture) + "M";
}
