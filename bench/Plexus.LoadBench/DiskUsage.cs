namespace Plexus.LoadBench;

/// <summary>Bytes of a DuckDB database in a data folder: the file, its write-ahead log, and anything else there.</summary>
internal sealed record DiskUsage(long DatabaseBytes, long WalBytes, long OtherBytes)
{
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
