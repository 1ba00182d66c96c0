using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace LlmRouter.Data;

/// <summary>One <c>migrations/NNNN_name.sql</c> file: its version, name, SQL and checksum.</summary>
internal sealed partial record MigrationFile(int Version, string Name, string FileName, string Sql, string Checksum)
{
    [GeneratedRegex(@"^(\d{4})_([A-Za-z0-9_]+)\.sql$")]
    private static partial Regex FileNamePattern();

    /// <summary>Every migration in <paramref name="directory"/>, in version order; a misnamed or duplicate file is an error.</summary>
    public static IReadOnlyList<MigrationFile> ReadAll(string directory)
    {
        if (!Directory.Exists(directory)) throw new MigrationException($"the migrations folder {directory} does not exist");
        var files = new SortedDictionary<int, MigrationFile>();
        foreach (var path in Directory.EnumerateFiles(directory, "*.sql"))
        {
            var fileName = Path.GetFileName(path);
            var match = FileNamePattern().Match(fileName);
            if (!match.Success) throw new MigrationException($"migrations/{fileName}: the name must be NNNN_name.sql (four digits, then letters, digits or '_')");
            var version = int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            var sql = File.ReadAllText(path);
            var file = new MigrationFile(version, match.Groups[2].Value, fileName, sql, ChecksumOf(sql));
            if (!files.TryAdd(version, file)) throw new MigrationException($"migrations/{fileName}: version {version} is also used by migrations/{files[version].FileName}");
        }
        return [.. files.Values];
    }

    /// <summary>Line endings are normalised first, so a checkout with CRLF endings does not look like an edited file.</summary>
    public static string ChecksumOf(string sql) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sql.ReplaceLineEndings("\n"))));
}

/// <summary>A migration problem that retrying cannot fix (a misnamed file, an applied file that was edited).</summary>
internal sealed class MigrationException(string message) : Exception(message);
