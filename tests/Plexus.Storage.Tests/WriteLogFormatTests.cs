using System.Text;
using Microsoft.Extensions.Logging;
using Plexus.Storage.Writing;
using Plexus.TestKit;
using static Plexus.Storage.Tests.LogFolders;

namespace Plexus.Storage.Tests;

/// <summary>
/// The write log as a file: its header (magic, format version), the header-less log of the first release (replayed
/// once, then rewritten), a log of a newer format, and what replay does with bytes it cannot use (a torn tail, a
/// damaged record): it logs them and keeps a copy beside the log instead of dropping them silently.
/// </summary>
public sealed class WriteLogFormatTests : IDisposable
{
    private readonly LogFolders _folders = new();
    private readonly CollectingLoggerProvider _logs = new();
    private readonly ILoggerFactory _loggerFactory;

    public WriteLogFormatTests()
    {
        _loggerFactory = LoggerFactory.Create(builder => builder.AddProvider(_logs).SetMinimumLevel(LogLevel.Debug));
    }

    public void Dispose()
    {
        _loggerFactory.Dispose();
        _folders.Dispose();
    }

    /// <summary>
    /// A data folder copied while 1 point was in DuckDB and <paramref name="logged"/> more only in the log (as a
    /// killed process leaves it), and its log's bytes; the test writes the log it wants into the copy.
    /// </summary>
    private async Task<(string Folder, byte[] Log)> CrashAsync(int logged)
    {
        await using var store = Open(_folders.Path);
        await WriteSeriesAsync(store, 1, 1);
        await WriteSeriesAsync(store, 2, logged);
        return (_folders.CopyOf(_folders.Path), File.ReadAllBytes(LogPath(_folders.Path)));
    }

    private static string[] DiscardedCopies(string directory) => Directory.GetFiles(directory, WriteLog.FileName + ".discarded-*");

    [Fact]
    public async Task A_new_log_starts_with_the_magic_and_the_format_version_and_creating_it_syncs_the_folder()
    {
        var file = new FaultyLogFile();
        await using var store = Open(_folders.Path, file);
        byte[] log = File.ReadAllBytes(LogPath(_folders.Path));

        Assert.Equal(WriteLog.HeaderSize, log.Length);
        Assert.Equal("PLEXUSWL", Encoding.ASCII.GetString(log, 0, 8));
        Assert.Equal(1u, VersionOf(log));
        Assert.Equal([0, 0, 0, 0], log[12..16]);

        // Created as a temporary file renamed into place: the name is durable only once the folder is synced.
        Assert.Contains(Path.GetFullPath(_folders.Path), file.SyncedDirectories);
        Assert.False(File.Exists(LogPath(_folders.Path) + ".tmp"));

        await WriteSeriesAsync(store, 1, 3);
        Assert.Equal(3, Scalar(store, "SELECT count(*) FROM env"));
        Assert.Equal(WriteLog.HeaderSize, new FileInfo(LogPath(_folders.Path)).Length);
    }

    [Fact]
    public async Task A_header_less_log_of_the_first_release_is_replayed_once_and_rewritten_with_a_header()
    {
        var (crashed, log) = await CrashAsync(logged: 9);
        File.WriteAllBytes(LogPath(crashed), log[WriteLog.HeaderSize..]);
        var file = new FaultyLogFile();

        await using (var reopened = Open(crashed, file, _loggerFactory))
        {
            Assert.Equal(9, reopened.Writer.PointsReplayed);
            Assert.Equal(10, Scalar(reopened, "SELECT count(*) FROM env"));
        }

        byte[] migrated = File.ReadAllBytes(LogPath(crashed));
        Assert.Equal("PLEXUSWL", Encoding.ASCII.GetString(migrated, 0, 8));
        Assert.Equal(1u, VersionOf(migrated));
        Assert.Contains(Path.GetFullPath(crashed), file.SyncedDirectories);
        Assert.Contains(_logs.Entries, e => e.Message.Contains("header-less format", StringComparison.Ordinal));
        Assert.Empty(DiscardedCopies(crashed));

        await using var again = Open(crashed);
        Assert.Equal(0, again.Writer.PointsReplayed);
        Assert.Equal(10, Scalar(again, "SELECT count(*) FROM env"));
    }

    [Fact]
    public async Task A_log_of_a_newer_format_that_holds_records_is_refused_at_start_with_what_to_do()
    {
        var (crashed, log) = await CrashAsync(logged: 3);
        byte[] newer = (byte[])log.Clone();
        newer[8] = 2;
        File.WriteAllBytes(LogPath(crashed), newer);

        var error = Assert.Throws<StorageException>(() => Open(crashed));

        Assert.Contains("format version 2", error.Message, StringComparison.Ordinal);
        Assert.Contains("reads version 1", error.Message, StringComparison.Ordinal);
        Assert.Contains("stop it cleanly", error.Message, StringComparison.Ordinal);
        Assert.Equal(newer, File.ReadAllBytes(LogPath(crashed)));
    }

    [Fact]
    public async Task An_empty_log_of_a_newer_format_is_replaced_by_an_empty_log_of_this_one()
    {
        var (folder, _) = await CrashAsync(logged: 0);
        File.WriteAllBytes(LogPath(folder), [.. "PLEXUSWL"u8, 7, 0, 0, 0, 0, 0, 0, 0]);

        await using var store = Open(folder, logs: _loggerFactory);

        Assert.Equal(1u, VersionOf(File.ReadAllBytes(LogPath(folder))));
        Assert.Contains(_logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("format version 7", StringComparison.Ordinal));
        await WriteSeriesAsync(store, 2, 2);
        Assert.Equal(3, Scalar(store, "SELECT count(*) FROM env"));
    }

    [Fact]
    public async Task A_torn_tail_is_logged_with_path_offset_and_size_and_its_bytes_are_kept_beside_the_log()
    {
        var (crashed, log) = await CrashAsync(logged: 4);
        var records = Records(log);
        Assert.Equal(4, records.Count);
        int tornAt = records[^1].Offset;
        byte[] torn = log[..(tornAt + 7)];
        File.WriteAllBytes(LogPath(crashed), torn);

        await using var reopened = Open(crashed, logs: _loggerFactory);

        Assert.Equal(3, reopened.Writer.PointsReplayed);
        string copy = Assert.Single(DiscardedCopies(crashed));
        Assert.Equal(torn[tornAt..], File.ReadAllBytes(copy));
        var warning = Assert.Single(_logs.Entries, e => e.Message.Contains("not replayed", StringComparison.Ordinal));
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains(LogPath(crashed), warning.Message, StringComparison.Ordinal);
        Assert.Contains("torn last record", warning.Message, StringComparison.Ordinal);
        Assert.Contains($"offset {tornAt}", warning.Message, StringComparison.Ordinal);
        Assert.Contains("7 bytes", warning.Message, StringComparison.Ordinal);
        Assert.Contains(copy, warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_damaged_record_in_the_middle_is_logged_as_an_error_and_everything_from_it_on_is_kept_beside_the_log()
    {
        var (crashed, log) = await CrashAsync(logged: 4);
        var records = Records(log);
        int damagedAt = records[1].Offset;
        byte[] damaged = (byte[])log.Clone();
        damaged[damagedAt + WriteLog.RecordHeaderSize + 5] ^= 0xFF;
        File.WriteAllBytes(LogPath(crashed), damaged);

        await using var reopened = Open(crashed, logs: _loggerFactory);

        // Replay stops at the damage: the whole records behind it are not applied, but neither are they lost.
        Assert.Equal(1, reopened.Writer.PointsReplayed);
        Assert.Equal(2, Scalar(reopened, "SELECT count(*) FROM env"));
        string copy = Assert.Single(DiscardedCopies(crashed));
        Assert.Equal(damaged[damagedAt..], File.ReadAllBytes(copy));
        var error = Assert.Single(_logs.Entries, e => e.Level == LogLevel.Error);
        Assert.Contains("fails its checksum", error.Message, StringComparison.Ordinal);
        Assert.Contains($"offset {damagedAt}", error.Message, StringComparison.Ordinal);
        Assert.Contains($"from offset {records[2].Offset}", error.Message, StringComparison.Ordinal);
        Assert.Contains(copy, error.Message, StringComparison.Ordinal);

        // The log itself starts over; a new write is logged and read like any other.
        Assert.Equal(WriteLog.HeaderSize, new FileInfo(LogPath(crashed)).Length);
        await WriteSeriesAsync(reopened, 10, 1);
        Assert.Equal(3, Scalar(reopened, "SELECT count(*) FROM env"));
    }

    [Fact]
    public async Task A_clean_log_leaves_no_discarded_copy()
    {
        var (crashed, _) = await CrashAsync(logged: 2);

        await using var reopened = Open(crashed, logs: _loggerFactory);

        Assert.Equal(2, reopened.Writer.PointsReplayed);
        Assert.Empty(DiscardedCopies(crashed));
        Assert.DoesNotContain(_logs.Entries, e => e.Level >= LogLevel.Warning);
    }
}
