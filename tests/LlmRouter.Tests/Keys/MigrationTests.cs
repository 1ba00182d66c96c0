using LlmRouter.Data;
using LlmRouter.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace LlmRouter.Tests.Keys;

public sealed class MigrationTests(PostgresFixture fixture) : IClassFixture<PostgresFixture>
{
    private static MigrationRunner Runner() => new(NullLogger<MigrationRunner>.Instance);

    [Fact]
    public async Task Apply_Twice_SecondRunIsANoOp()
    {
        var url = await fixture.CreateDatabaseAsync();
        await using var source = NpgsqlDataSource.Create(PostgresFixture.ConnectionStringOf(url));

        var first = await Runner().ApplyAsync(source, MigrationRunner.DefaultDirectory, CancellationToken.None);
        var second = await Runner().ApplyAsync(source, MigrationRunner.DefaultDirectory, CancellationToken.None);

        Assert.Contains(first, f => f.FileName == "0001_keys.sql");
        Assert.Empty(second);
        Assert.Equal(first.Count, await ScalarAsync<long>(source, "SELECT count(*) FROM schema_migrations"));
        Assert.Equal(0L, await ScalarAsync<long>(source, "SELECT count(*) FROM api_keys"));
    }

    [Fact]
    public async Task Apply_ByManyTasksAtOnce_RunsEachFileOnceUnderTheAdvisoryLock()
    {
        var url = await fixture.CreateDatabaseAsync();
        // A slow, non-idempotent migration: without the lock, two runners would both apply it and one would fail.
        var directory = CopyMigrations();
        await File.WriteAllTextAsync(Path.Combine(directory, "0900_slow.sql"),
            "CREATE TABLE slow_marker (id int PRIMARY KEY); SELECT pg_sleep(0.5); INSERT INTO slow_marker VALUES (1);");
        var sources = Enumerable.Range(0, 4).Select(_ => NpgsqlDataSource.Create(PostgresFixture.ConnectionStringOf(url))).ToList();
        try
        {
            var runs = await Task.WhenAll(sources.Select(s => Task.Run(() => Runner().ApplyAsync(s, directory, CancellationToken.None))));

            Assert.Equal(1, runs.Count(r => r.Any(f => f.FileName == "0900_slow.sql")));
            Assert.Equal(1L, await ScalarAsync<long>(sources[0], "SELECT count(*) FROM slow_marker"));
            Assert.Equal((long)Directory.GetFiles(directory, "*.sql").Length, await ScalarAsync<long>(sources[0], "SELECT count(*) FROM schema_migrations"));
        }
        finally
        {
            foreach (var source in sources) await source.DisposeAsync();
        }
    }

    [Fact]
    public async Task Apply_AfterAnAppliedFileChanged_FailsNamingTheFile()
    {
        var url = await fixture.CreateDatabaseAsync();
        var directory = CopyMigrations();
        await using var source = NpgsqlDataSource.Create(PostgresFixture.ConnectionStringOf(url));
        await Runner().ApplyAsync(source, directory, CancellationToken.None);
        await File.AppendAllTextAsync(Path.Combine(directory, "0001_keys.sql"), "\n-- edited after release\n");

        var error = await Assert.ThrowsAsync<MigrationException>(() => Runner().ApplyAsync(source, directory, CancellationToken.None));

        Assert.Contains("0001_keys.sql was changed after it was applied", error.Message);
    }

    [Fact]
    public async Task Apply_LineEndingsOnly_DoNotCountAsAChange()
    {
        var url = await fixture.CreateDatabaseAsync();
        var directory = CopyMigrations();
        await using var source = NpgsqlDataSource.Create(PostgresFixture.ConnectionStringOf(url));
        await Runner().ApplyAsync(source, directory, CancellationToken.None);
        var path = Path.Combine(directory, "0001_keys.sql");
        await File.WriteAllTextAsync(path, (await File.ReadAllTextAsync(path)).ReplaceLineEndings("\r\n"));

        Assert.Empty(await Runner().ApplyAsync(source, directory, CancellationToken.None));
    }

    [Fact]
    public async Task Apply_FailingFile_RollsBackAndRecordsNothing()
    {
        var url = await fixture.CreateDatabaseAsync();
        var directory = CopyMigrations();
        await File.WriteAllTextAsync(Path.Combine(directory, "0900_broken.sql"), "CREATE TABLE half_done (id int); SELECT * FROM no_such_table;");
        await using var source = NpgsqlDataSource.Create(PostgresFixture.ConnectionStringOf(url));

        var error = await Assert.ThrowsAsync<MigrationException>(() => Runner().ApplyAsync(source, directory, CancellationToken.None));

        Assert.Contains("0900_broken.sql failed", error.Message);
        Assert.Equal((long)Directory.GetFiles(directory, "*.sql").Length - 1, await ScalarAsync<long>(source, "SELECT count(*) FROM schema_migrations"));
        Assert.Null(await ScalarAsync<string?>(source, "SELECT to_regclass('half_done')::text"));
    }

    [Fact]
    public void ReadAll_MisnamedFile_IsAnError()
    {
        var directory = CopyMigrations();
        File.WriteAllText(Path.Combine(directory, "2_oops.sql"), "SELECT 1;");

        var error = Assert.Throws<MigrationException>(() => MigrationFile.ReadAll(directory));

        Assert.Contains("2_oops.sql", error.Message);
    }

    private static string CopyMigrations()
    {
        var directory = TestTemp.NewDirectory("migrations");
        foreach (var file in Directory.EnumerateFiles(MigrationRunner.DefaultDirectory, "*.sql"))
            File.Copy(file, Path.Combine(directory, Path.GetFileName(file)));
        return directory;
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlDataSource source, string sql)
    {
        await using var command = source.CreateCommand(sql);
        var value = await command.ExecuteScalarAsync();
        return value is DBNull ? default! : (T)value!;
    }
}
