using DuckDB.NET.Data;

namespace Plexus.LoadBench;

/// <summary>Bytes of a DuckDB database in a data folder: the file, its write-ahead log, and anything else there.</summary>
internal sealed record DiskUsage(long DatabaseBytes, long WalBytes, long OtherBytes)
{
    /// <summary>
    /// Bytes of the blocks DuckDB uses after a checkpoint (`PRAGMA database_size`: used_blocks × block_size).
    /// The file can be larger by free blocks left from earlier checkpoints (DuckDB does not shrink it). Both
    /// figures were seen to move by a block or two (256 KiB) between identical runs.
    /// </summary>
    public long? UsedBlockBytes { get; init; }

    public static long UsedBlockBytesOf(DuckDBConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT block_size * used_blocks FROM pragma_database_size() WHERE database_name = current_database()";
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>What the data costs on disk: the database file plus its log (normally empty after a checkpoint).</summary>
    public long DataBytes => DatabaseBytes + WalBytes;

    public static DiskUsage Measure(string directory, string databaseFileName)
    {
        long database = 0;
        long wal = 0;
        long other = 0;
        foreach (var file in new DirectoryInfo(directory).EnumerateFiles("*", SearchOption.AllDirectories))
        {
            if (file.Name == databaseFileName)
            {
                database += file.Length;
            }
            else if (file.Name == databaseFileName + ".wal")
            {
                wal += file.Length;
            }
            else
            {
                other += file.Length;
            }
        }

        return new DiskUsage(database, wal, other);
    }
}
