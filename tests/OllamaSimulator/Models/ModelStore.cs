namespace OllamaSimulator.Models;

/// <summary>The models the simulator holds (on "disk") and the subset loaded in "memory".</summary>
internal sealed class ModelStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, ModelEntry> _held = new(StringComparer.Ordinal);
    private readonly HashSet<string> _loaded = new(StringComparer.Ordinal);

    public ModelStore(IEnumerable<string> held, IEnumerable<string> loaded) => Replace(held, loaded);

    public ModelEntry? Find(string name)
    {
        var key = ModelName.Key(name);
        lock (_lock) return _held.GetValueOrDefault(key);
    }

    public bool IsLoaded(ModelEntry model)
    {
        lock (_lock) return _loaded.Contains(model.Key);
    }

    public void MarkLoaded(ModelEntry model)
    {
        lock (_lock)
        {
            if (_held.ContainsKey(model.Key)) _loaded.Add(model.Key);
        }
    }

    public void Unload(ModelEntry model)
    {
        lock (_lock) _loaded.Remove(model.Key);
    }

    /// <summary>Held models, most recently modified first (the order of <c>/api/tags</c>).</summary>
    public List<ModelEntry> Held()
    {
        lock (_lock) return _held.Values.OrderByDescending(m => m.ModifiedAt).ThenBy(m => m.Key, StringComparer.Ordinal).ToList();
    }

    public List<ModelEntry> Loaded()
    {
        lock (_lock) return _loaded.Select(k => _held[k]).OrderBy(m => m.Key, StringComparer.Ordinal).ToList();
    }

    /// <summary>Adds (or refreshes) a model, as a pull does. It is held but not loaded.</summary>
    public ModelEntry Add(string name)
    {
        var entry = ModelEntry.Create(name, DateTimeOffset.Now);
        lock (_lock) _held[entry.Key] = entry;
        return entry;
    }

    public bool Remove(string name)
    {
        var key = ModelName.Key(name);
        lock (_lock)
        {
            _loaded.Remove(key);
            return _held.Remove(key);
        }
    }

    /// <summary>Copies <paramref name="source"/> to <paramref name="destination"/>; false when the source is not held.</summary>
    public bool Copy(string source, string destination)
    {
        lock (_lock)
        {
            if (!_held.TryGetValue(ModelName.Key(source), out var from)) return false;
            var copy = from.CopyAs(destination, DateTimeOffset.Now);
            _held[copy.Key] = copy;
            return true;
        }
    }

    /// <summary>Replaces both sets. Returns an error naming a loaded model that is not held, or null.</summary>
    public string? Replace(IEnumerable<string> held, IEnumerable<string> loaded)
    {
        var now = DateTimeOffset.Now;
        var entries = new Dictionary<string, ModelEntry>(StringComparer.Ordinal);
        foreach (var name in held)
        {
            if (!ModelName.IsValid(name)) return $"'{name}' is not a model name";
            var e = ModelEntry.Create(name, now);
            entries[e.Key] = e;
        }
        var loadedKeys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in loaded)
        {
            var key = ModelName.Key(name);
            if (!entries.ContainsKey(key)) return $"loaded model '{name}' is not held";
            loadedKeys.Add(key);
        }
        lock (_lock)
        {
            _held.Clear();
            foreach (var (k, e) in entries) _held[k] = e;
            _loaded.Clear();
            _loaded.UnionWith(loadedKeys);
        }
        return null;
    }

    public (List<string> Held, List<string> Loaded) Names()
    {
        lock (_lock)
        {
            return (_held.Values.Select(m => m.Name).Order(StringComparer.Ordinal).ToList(),
                    _loaded.Select(k => _held[k].Name).Order(StringComparer.Ordinal).ToList());
        }
    }
}
