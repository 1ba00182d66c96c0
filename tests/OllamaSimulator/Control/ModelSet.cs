namespace OllamaSimulator.Control;

/// <summary>Body and answer of <c>/_sim/models</c>: held models and the loaded subset.</summary>
internal sealed record ModelSet(IReadOnlyList<string>? Models, IReadOnlyList<string>? Loaded);
