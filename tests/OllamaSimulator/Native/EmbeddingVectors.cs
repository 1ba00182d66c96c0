namespace OllamaSimulator.Native;

/// <summary>
/// Deterministic unit-length vectors: the text's FNV-1a hash seeds a xorshift generator, so the same text always
/// gets the same vector and different texts almost surely differ.
/// </summary>
internal static class EmbeddingVectors
{
    public static float[] For(string text, int dimensions)
    {
        var state = Fnv1a(text) | 1;
        var vector = new float[dimensions];
        double sumOfSquares = 0;
        for (var i = 0; i < vector.Length; i++)
        {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            var v = (state >> 11) * (2.0 / (1UL << 53)) - 1.0;
            vector[i] = (float)v;
            sumOfSquares += v * v;
        }
        var scale = (float)(1 / Math.Sqrt(sumOfSquares));
        for (var i = 0; i < vector.Length; i++) vector[i] *= scale;
        return vector;
    }

    private static ulong Fnv1a(string text)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in text)
        {
            hash ^= c;
            hash *= 1099511628211UL;
        }
        return hash;
    }
}
