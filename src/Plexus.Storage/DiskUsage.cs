using Plexus.Storage.Cold;
using Plexus.Storage.Writing;

namespace Plexus.Storage;

/// <summary>
/// Bytes of the data folder by what holds them: <see cref="Hot"/> the DuckDB database and its write-ahead files,
/// <see cref="Log"/> Plexus's own write log, <see cref="Cold"/> the Parquet files under <c>cold/</c>, and
/// <see cref="Other"/> the server's small files (tokens, device credentials, retained MQTT messages).
/// </summary>
public readonly record struct DiskUsage(long Hot, long Log, long Cold, long Other)
{
    public long Total => Hot + Log + Cold + Other;

    /// <summary>Walks the folder once; an estimate, since files come and go while it counts (a checkpoint's temporary file).</summary>
    public static DiskUsage Measure(string dataDirectory)
    {
        long hot = 0;
        long log = 0;
        long cold = 0;
        long other = 0;
        var root = new DirectoryInfo(dataDirectory);
        string coldFolder = Path.Combine(root.FullName, ColdStore.FolderName) + Path.DirectorySeparatorChar;
        try
        {
            foreach (var file in root.EnumerateFiles("*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true }))
            {
                long length;
                try
                {
                    length = file.Length;
                }
                catch (FileNotFoundException)
                {
                    continue;
                }

                if (file.FullName.StartsWith(coldFolder, StringComparison.Ordinal))
                {
                    cold += length;
                }
                else if (file.Name.StartsWith(StorageOptions.DatabaseFileName, StringComparison.Ordinal))
                {
                    hot += length;
                }
                else if (file.Name.StartsWith(WriteLog.FileName, StringComparison.Ordinal))
                {
                    log += length;
                }
                else
                {
                    other += length;
                }
            }
        }
        catch (IOException)
        {
            // The folder changed under the walk: what was counted stands.
        }

        return new DiskUsage(hot, log, cold, other);
    }
}
