using System.Globalization;
using LlmRouter.Errors;
using Microsoft.Extensions.Primitives;

namespace LlmRouter.Usage;

/// <summary>
/// Reads <c>from</c>, <c>to</c>, <c>key_id</c>, <c>model</c> and <c>group_by</c>; anything wrong or unknown is a
/// 400 that names the parameter (a typo such as <c>groupby</c> must not silently return the ungrouped total).
/// </summary>
internal static class UsageQueryParser
{
    private static readonly string[] Known = ["from", "to", "key_id", "model", "group_by"];

    /// <param name="pathKeyId">The key from <c>/admin/keys/{id}/usage</c>; <c>key_id</c> is then not accepted.</param>
    public static bool TryParse(IQueryCollection query, Guid? pathKeyId, out UsageQuery result, out ApiError? error)
    {
        result = null!;
        error = null;
        foreach (var (name, _) in query)
        {
            if (!Known.Contains(name, StringComparer.Ordinal) || (pathKeyId is not null && name == "key_id"))
            {
                error = ApiError.InvalidRequest($"Unknown query parameter '{name}'. Use {(pathKeyId is null ? "from, to, key_id, model, group_by" : "from, to, model, group_by")}.", name);
                return false;
            }
            if (query[name].Count > 1)
            {
                error = ApiError.InvalidRequest($"Query parameter '{name}' is given more than once.", name);
                return false;
            }
        }

        if (!TryDate(query, "from", out var from, out error) || !TryDate(query, "to", out var to, out error)) return false;
        if (from > to)
        {
            error = ApiError.InvalidRequest($"'from' ({from:yyyy-MM-dd}) is after 'to' ({to:yyyy-MM-dd}).", "from");
            return false;
        }

        var keyId = pathKeyId;
        if (Value(query, "key_id") is { } keyText)
        {
            if (!Guid.TryParse(keyText, out var parsed))
            {
                // Not echoed: a secret sent by mistake would come back in the error.
                error = ApiError.InvalidRequest("'key_id' must be a key id (a UUID), not a secret or an alias.", "key_id");
                return false;
            }
            keyId = parsed;
        }

        var groupBy = new List<UsageDimension>();
        if (Value(query, "group_by") is { } groupText)
        {
            foreach (var part in groupText.Split(',', StringSplitOptions.TrimEntries))
            {
                UsageDimension? dimension = part switch
                {
                    "day" => UsageDimension.Day,
                    "model" => UsageDimension.Model,
                    "key" or "key_id" => UsageDimension.Key,
                    _ => null,
                };
                if (dimension is null)
                {
                    error = ApiError.InvalidRequest($"'group_by' must be day, model or key (or a comma-separated list of them), not '{part}'.", "group_by");
                    return false;
                }
                if (!groupBy.Contains(dimension.Value)) groupBy.Add(dimension.Value);
            }
        }

        result = new UsageQuery(from, to, keyId, Value(query, "model"), groupBy);
        return true;
    }

    /// <summary>An empty value (<c>?from=</c>) counts as absent.</summary>
    private static string? Value(IQueryCollection query, string name) =>
        query.TryGetValue(name, out StringValues values) && values.ToString() is { Length: > 0 } value ? value : null;

    /// <summary>A UTC date, <c>2026-11-21</c>; a full ISO 8601 timestamp is accepted and reduced to its UTC date.</summary>
    private static bool TryDate(IQueryCollection query, string name, out DateOnly? date, out ApiError? error)
    {
        date = null;
        error = null;
        if (Value(query, name) is not { } text) return true;
        if (DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day))
        {
            date = day;
            return true;
        }
        if (text.Contains('T') && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var instant))
        {
            date = DateOnly.FromDateTime(instant.UtcDateTime);
            return true;
        }
        error = ApiError.InvalidRequest($"'{name}' must be a date such as 2026-11-21 (UTC), not '{text}'.", name);
        return false;
    }
}
