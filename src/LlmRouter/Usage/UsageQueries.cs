using System.Text;
using LlmRouter.Data;
using Npgsql;
using NpgsqlTypes;

namespace LlmRouter.Usage;

internal enum UsageDimension
{
    Day,
    Model,
    Key,
}

/// <summary>A usage question: inclusive UTC dates (null = unbounded), optional filters, and how to group.</summary>
internal sealed record UsageQuery(DateOnly? From, DateOnly? To, Guid? KeyId, string? Model, IReadOnlyList<UsageDimension> GroupBy);

internal sealed record UsageReport(
    DateOnly? From,
    DateOnly? To,
    Guid? KeyId,
    string? Model,
    IReadOnlyList<string> GroupBy,
    UsageTotals Totals,
    IReadOnlyList<UsageRow> Data);

internal sealed record UsageTotals(long Requests, long PromptTokens, long CompletionTokens, long TotalTokens, decimal Cost, long Errors);

/// <summary>One group; only the grouped-by fields are set.</summary>
internal sealed record UsageRow(
    DateOnly? Day,
    string? Model,
    Guid? KeyId,
    long Requests,
    long PromptTokens,
    long CompletionTokens,
    long TotalTokens,
    decimal Cost,
    long Errors);

/// <summary>Usage totals from the daily rollup only: a few rows per key, model and day, never the per-request table.</summary>
internal sealed class UsageQueries(Database database)
{
    private const int CommandTimeoutSeconds = 15;

    public bool IsConfigured => database.IsConfigured;

    public async Task<bool> KeyExistsAsync(Guid keyId, CancellationToken cancellationToken)
    {
        var source = database.Source ?? throw new InvalidOperationException("No database is configured.");
        await using var command = source.CreateCommand("select exists (select 1 from api_keys where id = $1)");
        command.CommandTimeout = CommandTimeoutSeconds;
        command.Parameters.Add(new NpgsqlParameter { Value = keyId });
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public async Task<UsageReport> GetAsync(UsageQuery query, CancellationToken cancellationToken)
    {
        var source = database.Source ?? throw new InvalidOperationException("No database is configured.");
        await using var command = source.CreateCommand(BuildSql(query, out var parameters));
        command.CommandTimeout = CommandTimeoutSeconds;
        command.Parameters.AddRange(parameters);

        var rows = new List<UsageRow>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                int column = 0;
                DateOnly? day = null;
                string? model = null;
                Guid? keyId = null;
                foreach (var dimension in query.GroupBy)
                {
                    switch (dimension)
                    {
                        case UsageDimension.Day: day = reader.GetFieldValue<DateOnly>(column++); break;
                        case UsageDimension.Model: model = reader.GetString(column++); break;
                        case UsageDimension.Key: keyId = reader.GetGuid(column++); break;
                    }
                }
                var requests = reader.GetInt64(column++);
                var prompt = reader.GetInt64(column++);
                var completion = reader.GetInt64(column++);
                var cost = reader.GetDecimal(column++);
                var errors = reader.GetInt64(column);
                rows.Add(new UsageRow(day, model, keyId, requests, prompt, completion, prompt + completion, cost, errors));
            }
        }

        // Without grouping the query returns one row (all zero when nothing matched), which is the total itself.
        var totals = new UsageTotals(
            rows.Sum(r => r.Requests), rows.Sum(r => r.PromptTokens), rows.Sum(r => r.CompletionTokens),
            rows.Sum(r => r.TotalTokens), rows.Sum(r => r.Cost), rows.Sum(r => r.Errors));
        return new UsageReport(
            query.From, query.To, query.KeyId, query.Model,
            query.GroupBy.Select(Name).ToArray(), totals,
            query.GroupBy.Count == 0 ? [] : rows);
    }

    public static string Name(UsageDimension dimension) => dimension switch
    {
        UsageDimension.Day => "day",
        UsageDimension.Model => "model",
        _ => "key",
    };

    private static string Column(UsageDimension dimension) => dimension switch
    {
        UsageDimension.Day => "day",
        UsageDimension.Model => "model",
        _ => "key_id",
    };

    /// <summary>Only the filters given become predicates, so each shape gets a plan that uses the right index.</summary>
    internal static string BuildSql(UsageQuery query, out NpgsqlParameter[] parameters)
    {
        var list = new List<NpgsqlParameter>();
        var where = new List<string>();
        if (query.From is { } from)
        {
            list.Add(new NpgsqlParameter<DateOnly> { NpgsqlDbType = NpgsqlDbType.Date, TypedValue = from });
            where.Add($"day >= ${list.Count}");
        }
        if (query.To is { } to)
        {
            list.Add(new NpgsqlParameter<DateOnly> { NpgsqlDbType = NpgsqlDbType.Date, TypedValue = to });
            where.Add($"day <= ${list.Count}");
        }
        if (query.KeyId is { } keyId)
        {
            list.Add(new NpgsqlParameter<Guid> { NpgsqlDbType = NpgsqlDbType.Uuid, TypedValue = keyId });
            where.Add($"key_id = ${list.Count}");
        }
        if (query.Model is { } model)
        {
            list.Add(new NpgsqlParameter<string> { NpgsqlDbType = NpgsqlDbType.Text, TypedValue = model });
            where.Add($"model = ${list.Count}");
        }
        parameters = list.ToArray();

        var columns = string.Join(", ", query.GroupBy.Select(Column));
        var sql = new StringBuilder("SELECT ");
        if (columns.Length > 0) sql.Append(columns).Append(", ");
        sql.Append("coalesce(sum(requests), 0)::bigint, coalesce(sum(prompt_tokens), 0)::bigint, coalesce(sum(completion_tokens), 0)::bigint, ")
           .Append("coalesce(sum(cost), 0), coalesce(sum(errors), 0)::bigint FROM usage_daily");
        if (where.Count > 0) sql.Append(" WHERE ").AppendJoin(" AND ", where);
        if (columns.Length > 0) sql.Append(" GROUP BY ").Append(columns).Append(" ORDER BY ").Append(columns);
        return sql.ToString();
    }
}
