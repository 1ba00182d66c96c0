using System.Text;
using Microsoft.EntityFrameworkCore;

namespace LlmRouter.Keys.Storage;

/// <summary>
/// EF Core over the tables that migrations/0001_keys.sql creates. The schema belongs to the SQL files, not to EF:
/// this only maps names, it never creates or migrates anything.
/// </summary>
internal sealed class KeysDbContext(DbContextOptions<KeysDbContext> options) : DbContext(options)
{
    public DbSet<ApiKeyRow> Keys => Set<ApiKeyRow>();
    public DbSet<ApiKeySecretRow> Secrets => Set<ApiKeySecretRow>();

    protected override void OnModelCreating(ModelBuilder model)
    {
        model.Entity<ApiKeyRow>(key =>
        {
            key.ToTable("api_keys");
            key.HasKey(k => k.Id);
            key.Property(k => k.Metadata).HasColumnType("jsonb");
            key.Property(k => k.Models).HasColumnType("text[]");
            key.Property(k => k.MaxBudget).HasColumnType("numeric(20,6)");
        });
        model.Entity<ApiKeySecretRow>(secret =>
        {
            secret.ToTable("api_key_secrets");
            secret.HasKey(s => s.Hash);
            // Declared so EF inserts a new key before its secret.
            secret.HasOne<ApiKeyRow>().WithMany().HasForeignKey(s => s.KeyId);
        });
        foreach (var entity in model.Model.GetEntityTypes())
        {
            foreach (var property in entity.GetProperties()) property.SetColumnName(SnakeCase(property.Name));
        }
    }

    private static string SnakeCase(string name)
    {
        var builder = new StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0) builder.Append('_');
            builder.Append(char.ToLowerInvariant(name[i]));
        }
        return builder.ToString();
    }
}
