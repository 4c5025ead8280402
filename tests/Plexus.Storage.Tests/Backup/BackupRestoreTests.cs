using System.Text;
using Plexus.Storage.Backup;
using Plexus.TestKit;

namespace Plexus.Storage.Tests.Backup;

/// <summary><c>plexus restore</c>'s checks: a damaged, unfinished or foreign backup and a non-empty target are refused before the target changes.</summary>
public sealed class BackupRestoreTests
{
    [Fact]
    public void A_backup_file_damaged_after_it_was_written_is_refused_naming_the_file_and_nothing_is_restored()
    {
        using var backup = MakeBackup(out _);
        using var target = new TempDirectory("plexus-restore");
        string database = Path.Combine(backup.Path, "plexus.duckdb");
        byte[] bytes = File.ReadAllBytes(database);
        bytes[10] ^= 0x40;
        File.WriteAllBytes(database, bytes);

        var error = Assert.Throws<BackupException>(() => BackupRestore.Restore(backup.Path, target.Path, force: false));

        Assert.Contains("plexus.duckdb has SHA-256", error.Message, StringComparison.Ordinal);
        Assert.Contains("damaged", error.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(target.Path));
    }

    [Fact]
    public void A_backup_file_cut_short_or_missing_is_refused_with_every_problem_listed()
    {
        using var backup = MakeBackup(out _);
        using var target = new TempDirectory("plexus-restore");
        File.WriteAllBytes(Path.Combine(backup.Path, "plexus.duckdb"), [1, 2, 3]);
        File.Delete(Path.Combine(backup.Path, "cold", "m1", "p.parquet"));

        var error = Assert.Throws<BackupException>(() => BackupRestore.Restore(backup.Path, target.Path, force: false));

        Assert.Contains("plexus.duckdb is 3 bytes, the manifest says", error.Message, StringComparison.Ordinal);
        Assert.Contains("cold/m1/p.parquet is missing", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_folder_without_a_manifest_is_refused_as_not_a_backup_or_unfinished()
    {
        using var backup = MakeBackup(out _);
        using var target = new TempDirectory("plexus-restore");
        File.Delete(Path.Combine(backup.Path, BackupManifest.FileName));

        var error = Assert.Throws<BackupException>(() => BackupRestore.Restore(backup.Path, target.Path, force: false));

        Assert.Contains("has no manifest.json", error.Message, StringComparison.Ordinal);
        Assert.Contains("did not finish", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("../escape")]
    [InlineData("/etc/passwd")]
    [InlineData("cold/../../x")]
    [InlineData("a\\b")]
    public void A_manifest_naming_a_path_outside_the_backup_is_refused(string path)
    {
        string json = $$"""{"format": "plexus-backup", "version": 1, "files": [{"path": {{System.Text.Json.JsonSerializer.Serialize(path)}}, "bytes": 0, "sha256": "{{new string('0', 64)}}"}]}""";

        var error = Assert.Throws<BackupException>(() => BackupManifest.Parse(Encoding.UTF8.GetBytes(json)));

        Assert.Contains("not a relative path inside the backup", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_non_empty_target_is_refused_without_force_and_its_data_files_are_replaced_with_it()
    {
        using var backup = MakeBackup(out byte[] database);
        using var target = new TempDirectory("plexus-restore");
        File.WriteAllText(Path.Combine(target.Path, "plexus.duckdb"), "old");
        File.WriteAllText(Path.Combine(target.Path, "plexus.log"), "old log");
        File.WriteAllText(Path.Combine(target.Path, "notes.txt"), "mine");

        var error = Assert.Throws<BackupException>(() => BackupRestore.Restore(backup.Path, target.Path, force: false));
        Assert.Contains("--force", error.Message, StringComparison.Ordinal);
        Assert.Equal("old", File.ReadAllText(Path.Combine(target.Path, "plexus.duckdb")));

        BackupRestore.Restore(backup.Path, target.Path, force: true);

        Assert.Equal(database, File.ReadAllBytes(Path.Combine(target.Path, "plexus.duckdb")));
        Assert.False(File.Exists(Path.Combine(target.Path, "plexus.log")), "the old write log would replay into the restored database");
        Assert.True(File.Exists(Path.Combine(target.Path, "cold", "m1", "p.parquet")));
        Assert.Equal("mine", File.ReadAllText(Path.Combine(target.Path, "notes.txt")));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(target.Path, "plexus.duckdb")));
        }
    }

    // A backup folder as plexus backup leaves it: the files and, last, the manifest with their checksums.
    private static TempDirectory MakeBackup(out byte[] database)
    {
        var folder = new TempDirectory("plexus-backup");
        database = Encoding.UTF8.GetBytes("not really a database, but bytes to check");
        File.WriteAllBytes(Path.Combine(folder.Path, "plexus.duckdb"), database);
        if (!OperatingSystem.IsWindows())
        {
            // As a backup copied around by other tools may be: readable by everyone.
            File.SetUnixFileMode(Path.Combine(folder.Path, "plexus.duckdb"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        }
        Directory.CreateDirectory(Path.Combine(folder.Path, "cold", "m1"));
        File.WriteAllText(Path.Combine(folder.Path, "cold", "m1", "p.parquet"), "parquet bytes");
        var files = new[] { "plexus.duckdb", "cold/m1/p.parquet" }
            .Select(p => new BackupFile(p, new FileInfo(Path.Combine(folder.Path, p)).Length, BackupManifest.HashFile(Path.Combine(folder.Path, p))))
            .ToList();
        File.WriteAllBytes(Path.Combine(folder.Path, BackupManifest.FileName), new BackupManifest(DateTimeOffset.UnixEpoch, files).ToJson());
        return folder;
    }
}
