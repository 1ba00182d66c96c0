using LlmRouter.Errors;
using LlmRouter.Keys.Storage;
using Microsoft.EntityFrameworkCore;

namespace LlmRouter.Keys;

/// <summary>A minted or rotated key: the row and the secret, which exists nowhere else and is shown once.</summary>
internal sealed record IssuedKey(ApiKeyRow Row, string Secret, DateTimeOffset? PreviousSecretsExpireAt = null);

/// <summary>
/// The admin side of keys: every read and write the admin APIs make, each change committed in Postgres and then
/// published through <see cref="KeyEvents"/>. Errors come out as <see cref="ApiErrorException"/> (404, 409, 503).
/// </summary>
internal sealed class KeyStore(KeyDb db, KeyEvents events, TimeProvider time)
{
    /// <summary>Postgres keeps microseconds; rounding here makes a mint response equal what a later read returns.</summary>
    public DateTimeOffset Now()
    {
        var now = time.GetUtcNow();
        return now.AddTicks(-(now.Ticks % 10));
    }

    public async Task<IssuedKey> MintAsync(KeyChanges changes, CancellationToken cancellationToken)
    {
        var now = Now();
        var secret = KeySecret.Generate();
        var row = new ApiKeyRow { Id = Guid.CreateVersion7(now), DisplayPrefix = KeySecret.DisplayPrefixOf(secret), CreatedAt = now, UpdatedAt = now };
        changes.ApplyTo(row);
        await RunAsync(async context =>
        {
            context.Keys.Add(row);
            context.Secrets.Add(new ApiKeySecretRow { Hash = SecretHash.Of(secret).ToHex(), KeyId = row.Id, CreatedAt = now });
            await context.SaveChangesAsync(cancellationToken);
            return row;
        }, changes.AliasField);
        await events.PublishAsync(new KeyChange(KeyChangeKind.Minted, row.Id), row);
        return new IssuedKey(row, secret);
    }

    public Task<ApiKeyRow?> FindAsync(Guid id, CancellationToken cancellationToken) =>
        RunAsync(context => context.Keys.FirstOrDefaultAsync(k => k.Id == id, cancellationToken));

    /// <summary>The key a secret belongs to, whether or not that secret is still valid (admins may name a key by an old secret).</summary>
    public Task<ApiKeyRow?> FindBySecretAsync(string secret, CancellationToken cancellationToken)
    {
        var hash = SecretHash.Of(secret).ToHex();
        return RunAsync(context => context.Secrets.Where(s => s.Hash == hash)
            .Join(context.Keys, s => s.KeyId, k => k.Id, (s, k) => k).FirstOrDefaultAsync(cancellationToken));
    }

    public Task<ApiKeyRow?> FindLiveByAliasAsync(string alias, CancellationToken cancellationToken) =>
        RunAsync(context => context.Keys.FirstOrDefaultAsync(k => k.Alias == alias && k.RevokedAt == null, cancellationToken));

    /// <summary>A page in creation order, and the total count for the same filter.</summary>
    public Task<(IReadOnlyList<ApiKeyRow> Rows, int Total)> ListAsync(int offset, int limit, string? alias, bool? revoked, CancellationToken cancellationToken) =>
        RunAsync(async context =>
        {
            var query = context.Keys.AsQueryable();
            if (alias is not null) query = query.Where(k => k.Alias == alias);
            if (revoked is true) query = query.Where(k => k.RevokedAt != null);
            if (revoked is false) query = query.Where(k => k.RevokedAt == null);
            var total = await query.CountAsync(cancellationToken);
            var rows = await query.OrderBy(k => k.CreatedAt).ThenBy(k => k.Id).Skip(offset).Take(limit).ToListAsync(cancellationToken);
            return ((IReadOnlyList<ApiKeyRow>)rows, total);
        });

    public async Task<ApiKeyRow> UpdateAsync(Guid id, KeyChanges changes, CancellationToken cancellationToken)
    {
        var row = await RunAsync(async context =>
        {
            var row = await LiveKeyAsync(context, id, cancellationToken);
            changes.ApplyTo(row);
            row.UpdatedAt = Now();
            await context.SaveChangesAsync(cancellationToken);
            return row;
        }, changes.AliasField);
        await events.PublishAsync(new KeyChange(changes.Blocked is { IsSet: true, Value: true } ? KeyChangeKind.Blocked : KeyChangeKind.Updated, id), row);
        return row;
    }

    /// <summary>Revokes keys for good (LiteLLM's delete). Revoking a revoked key changes nothing and is not an error.</summary>
    public async Task<IReadOnlyList<ApiKeyRow>> RevokeAsync(List<Guid> ids, CancellationToken cancellationToken)
    {
        var rows = await RunAsync(async context =>
        {
            var rows = await context.Keys.AsTracking().Where(k => ids.Contains(k.Id)).ToListAsync(cancellationToken);
            if (rows.Count != ids.Distinct().Count()) throw new ApiErrorException(ApiError.KeyNotFound());
            var now = Now();
            foreach (var row in rows.Where(r => r.RevokedAt is null))
            {
                row.RevokedAt = now;
                row.UpdatedAt = now;
            }
            await context.SaveChangesAsync(cancellationToken);
            // In the order asked for, so a caller can match its list to ours.
            return rows.OrderBy(r => ids.IndexOf(r.Id)).ToList();
        });
        foreach (var row in rows) await events.PublishAsync(new KeyChange(KeyChangeKind.Revoked, row.Id), row);
        return rows;
    }

    /// <summary>
    /// A new secret for the key; its older secrets stay valid for <paramref name="gracePeriod"/> (zero = invalid at once).
    /// Secrets whose grace period is over are deleted here, so the table does not grow with every rotation.
    /// </summary>
    public async Task<IssuedKey> RotateAsync(Guid id, TimeSpan gracePeriod, KeyChanges? changes, CancellationToken cancellationToken)
    {
        var now = Now();
        var oldSecretsExpireAt = now + gracePeriod;
        var secret = KeySecret.Generate();
        var row = await RunAsync(async context =>
        {
            var row = await LiveKeyAsync(context, id, cancellationToken);
            var secrets = await context.Secrets.AsTracking().Where(s => s.KeyId == id).ToListAsync(cancellationToken);
            foreach (var old in secrets)
            {
                if (old.ExpiresAt <= now) context.Secrets.Remove(old);
                else if (old.ExpiresAt is null || old.ExpiresAt > oldSecretsExpireAt) old.ExpiresAt = oldSecretsExpireAt;
            }
            context.Secrets.Add(new ApiKeySecretRow { Hash = SecretHash.Of(secret).ToHex(), KeyId = id, CreatedAt = now });
            changes?.ApplyTo(row);
            row.DisplayPrefix = KeySecret.DisplayPrefixOf(secret);
            row.UpdatedAt = now;
            await context.SaveChangesAsync(cancellationToken);
            return row;
        }, changes?.AliasField ?? "alias");
        await events.PublishAsync(new KeyChange(KeyChangeKind.Rotated, id, now, oldSecretsExpireAt), row);
        return new IssuedKey(row, secret, oldSecretsExpireAt);
    }

    private static async Task<ApiKeyRow> LiveKeyAsync(KeysDbContext context, Guid id, CancellationToken cancellationToken)
    {
        var row = await context.Keys.AsTracking().FirstOrDefaultAsync(k => k.Id == id, cancellationToken)
            ?? throw new ApiErrorException(ApiError.KeyNotFound());
        if (row.RevokedAt is not null) throw new ApiErrorException(ApiError.Conflict("This key is revoked; revoked keys cannot be changed."));
        return row;
    }

    /// <summary>The one place database failures become answers: unreachable is 503, a taken alias is 409.</summary>
    private async Task<T> RunAsync<T>(Func<KeysDbContext, Task<T>> work, string aliasField = "alias")
    {
        db.State.EnsureUsable();
        try
        {
            await using var context = db.CreateContext();
            return await work(context);
        }
        catch (Exception e) when (KeyDb.IsUnavailable(e))
        {
            throw new ApiErrorException(ApiError.DatabaseUnavailable("The database is unreachable; retry shortly."));
        }
        catch (Exception e) when (KeyDb.IsUniqueViolation(e, "api_keys_alias_live"))
        {
            throw new ApiErrorException(ApiError.Conflict("Another key that is not revoked already has this alias.", aliasField));
        }
    }
}
