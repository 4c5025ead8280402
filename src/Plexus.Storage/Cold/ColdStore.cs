using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using DuckDB.NET.Data;
using Microsoft.Extensions.Logging;
using Plexus.Core;
using Plexus.Storage.Schema;

namespace Plexus.Storage.Cold;

/// <summary>
/// The cold tier's files and their manifest: Parquet files under <c>cold/</c> in the data folder, one per compacted
/// partition of a measurement, listed in <c>_plexus.cold_partitions</c> (docs/storage.md#hot-and-cold-tiers).
/// </summary>
/// <remarks>
/// Design note: the manifest is a DuckDB table, so a file becomes part of the store in the same transaction that
/// deletes the hot rows it holds (or the rows a delete removes from it) and replaces the measurement's view. A file is
/// complete and synced, folder entry included, before that transaction commits:
///
///     COPY … TO m7/20260101T000000Z-g12.parquet.tmp → fdatasync → rename to …parquet → fsync cold/m7 → COMMIT
///
/// A crash before the commit leaves a file no manifest row names: <see cref="Open"/> deletes it at the next start, and
/// the hot rows (or the old file) it was made from are still the store's. A crash after the commit leaves the new
/// file in the manifest and the rows it holds gone from the hot store. So every row is in exactly one tier at every
/// moment a reader or a restart can see. A file a commit replaced is deleted only later (<see cref="ObsoleteFileGrace"/>)
/// so that queries that bound the old view still find it; at a restart no query is running and it is an orphan.
/// Generations grow across the store's life (they restart above the manifest's highest at every open, after the
/// orphans are gone), so a new file never takes the name of one still waiting to be deleted.
/// </remarks>
public sealed class ColdStore
{
    public const string FolderName = "cold";

    public const string ManifestTable = SqlNames.InternalSchema + ".cold_partitions";

    /// <summary>The system view of every partition, hot and cold, in namespace main: <c>main.partitions</c>.</summary>
    public const string PartitionsViewName = "partitions";

    /// <summary>How long a replaced or dropped file stays on disk for queries that started before the change.</summary>
    public static readonly TimeSpan ObsoleteFileGrace = TimeSpan.FromMinutes(10);

    private const string TempSuffix = ".tmp";

    private readonly ConcurrentQueue<(string Path, long DueAt)> _obsolete = new();
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private long _nextGeneration = 1;

    public ColdStore(string dataDirectory, ColdTierOptions options, TimeProvider time, ILogger logger)
    {
        Directory = Path.GetFullPath(Path.Combine(dataDirectory, FolderName)) + Path.DirectorySeparatorChar;
        Options = options;
        _time = time;
        _logger = logger;
    }

    /// <summary>The cold folder, absolute, ending with a separator (the prefix every cold file's path starts with).</summary>
    public string Directory { get; }

    public ColdTierOptions Options { get; }

    public static void EnsureCreated(DuckDBConnection connection) => Catalog.Execute(connection,
        $"CREATE TABLE IF NOT EXISTS {ManifestTable} (measurement_id INTEGER NOT NULL, partition_start BIGINT NOT NULL, " +
        "partition_end BIGINT NOT NULL, file VARCHAR NOT NULL, generation BIGINT NOT NULL, rows BIGINT NOT NULL, bytes BIGINT NOT NULL, " +
        "min_time TIMESTAMP_NS NOT NULL, max_time TIMESTAMP_NS NOT NULL, fields VARCHAR[] NOT NULL)");

    /// <summary>Every partition of the manifest, by measurement id, oldest first.</summary>
    public static Dictionary<int, List<ColdPartition>> LoadManifest(DuckDBConnection connection)
    {
        var partitions = new Dictionary<int, List<ColdPartition>>();
        MetadataConnection.ForEachRow(connection,
            $"SELECT measurement_id, partition_start, partition_end, file, generation, rows, bytes, epoch_ns(min_time), epoch_ns(max_time), fields FROM {ManifestTable} ORDER BY measurement_id, partition_start",
            reader =>
            {
                var fields = ((IEnumerable<object>)reader.GetValue(9)).Select(f => (string)f).ToArray();
                var partition = new ColdPartition(reader.GetInt32(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetString(3), reader.GetInt64(4),
                    reader.GetInt64(5), reader.GetInt64(6), reader.GetInt64(7), reader.GetInt64(8), fields);
                if (!partitions.TryGetValue(partition.MeasurementId, out var list))
                {
                    partitions[partition.MeasurementId] = list = [];
                }

                list.Add(partition);
            });
        return partitions;
    }

    /// <summary>
    /// At start, before anything reads the cold tier: deletes every file the manifest does not name (a compaction or a
    /// delete that died before its commit, a file replaced before a stop) and reports files the manifest names but the
    /// disk lacks.
    /// </summary>
    public void Open(DuckDBConnection connection)
    {
        System.IO.Directory.CreateDirectory(Directory);
        var manifest = LoadManifest(connection);
        var named = new HashSet<string>(StringComparer.Ordinal);
        foreach (var partition in manifest.Values.SelectMany(list => list))
        {
            if (partition.EndNs - partition.StartNs != Options.PartitionSpanNs)
            {
                // Partitions of two spans would overlap, and a late point could then be compacted into a second file
                // beside the one that holds its series and time.
                throw new StorageException(
                    $"The cold tier holds partitions of {TimeSpan.FromTicks((partition.EndNs - partition.StartNs) / 100)}, but the partition span is set to {Options.PartitionSpan}: start with --partition-span {(long)TimeSpan.FromTicks((partition.EndNs - partition.StartNs) / 100).TotalSeconds}s, the span the data was compacted with.");
            }

            named.Add(PathOf(partition.FileName));
            _nextGeneration = Math.Max(_nextGeneration, partition.Generation + 1);
            if (!File.Exists(PathOf(partition.FileName)))
            {
                _logger.LogError("The cold partition file {File} named by the manifest is missing: its {Rows} rows cannot be read", partition.FileName, partition.Rows);
            }
        }

        foreach (string file in System.IO.Directory.EnumerateFiles(Directory, "*", SearchOption.AllDirectories))
        {
            if (!named.Contains(file))
            {
                _logger.LogInformation("Removing {File}, a cold file no committed partition names (left by a compaction or delete that did not finish)", file);
                File.Delete(file);
            }
        }
    }

    public string PathOf(string fileName) => Path.Combine(Directory, fileName);

    public static void InsertManifest(DuckDBConnection connection, ColdPartition partition)
    {
        string fields = "[" + string.Join(", ", partition.Fields.Select(SqlNames.Literal)) + "]::VARCHAR[]";
        Catalog.Execute(connection,
            $"INSERT INTO {ManifestTable} VALUES ($1, $2, $3, $4, $5, $6, $7, make_timestamp_ns($8), make_timestamp_ns($9), {fields})",
            partition.MeasurementId, partition.StartNs, partition.EndNs, partition.FileName, partition.Generation, partition.Rows,
            partition.Bytes, partition.MinTimeNs, partition.MaxTimeNs);
    }

    public static void DeleteManifest(DuckDBConnection connection, ColdPartition partition) => Catalog.Execute(connection,
        $"DELETE FROM {ManifestTable} WHERE measurement_id = $1 AND partition_start = $2", partition.MeasurementId, partition.StartNs);

    public static void DeleteManifest(DuckDBConnection connection, int measurementId) => Catalog.Execute(connection,
        $"DELETE FROM {ManifestTable} WHERE measurement_id = $1", measurementId);

    /// <summary>
    /// Writes the rows of <paramref name="selectSql"/> (columns <c>_series_id, time</c>, the tags, the fields) sorted by
    /// series and time into a new synced file of the cold folder, not yet named by the manifest. Null when the select
    /// gives no rows (nothing is left on disk then).
    /// </summary>
    public ColdPartition? Write(DuckDBConnection connection, int measurementId, long startNs, long endNs, string selectSql, IReadOnlyList<string> fields)
    {
        long generation = Interlocked.Increment(ref _nextGeneration) - 1;
        string start = DateTimeOffset.UnixEpoch.AddTicks(startNs / 100).ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        string fileName = $"m{measurementId}/{start}-g{generation}.parquet";
        string path = PathOf(fileName);
        string temp = path + TempSuffix;
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);

        // Version 2 pages give DELTA_BINARY_PACKED to timestamps and integers and BYTE_STREAM_SPLIT to doubles; strings
        // (tags) keep dictionaries. Sorted by series then time, a regular series' timestamps delta to almost nothing.
        // Types are the tables' own: the encodings never change what SQL sees.
        Catalog.Execute(connection, new StringBuilder("COPY (").Append(selectSql).Append(") TO ").Append(SqlNames.Literal(temp))
            .Append(" (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 9, PARQUET_VERSION v2, ROW_GROUP_SIZE 1000000)").ToString());
        try
        {
            long rows = 0, min = 0, max = 0;
            MetadataConnection.ForEachRow(connection, $"SELECT count(*), epoch_ns(min(time)), epoch_ns(max(time)) FROM read_parquet({SqlNames.Literal(temp)})", reader =>
            {
                rows = reader.GetInt64(0);
                if (rows > 0)
                {
                    min = reader.GetInt64(1);
                    max = reader.GetInt64(2);
                }
            });
            if (rows == 0)
            {
                File.Delete(temp);
                return null;
            }

            using (var handle = File.OpenHandle(temp, FileMode.Open, FileAccess.ReadWrite))
            {
                DurableFile.SyncData(handle);
            }

            File.Move(temp, path, overwrite: false);
            DurableFile.SyncDirectory(Path.GetDirectoryName(path)!);
            return new ColdPartition(measurementId, startNs, endNs, fileName, generation, rows, new FileInfo(path).Length, min, max, fields);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>A file that a committed change no longer names; deleted once queries that may still read it are done.</summary>
    public void Retire(string fileName) => _obsolete.Enqueue((PathOf(fileName), _time.GetTimestamp() + (long)(ObsoleteFileGrace.TotalSeconds * _time.TimestampFrequency)));

    /// <summary>A file written for a change that was not committed: no view names it, so it goes at once.</summary>
    public void Discard(string fileName)
    {
        try
        {
            File.Delete(PathOf(fileName));
        }
        catch (IOException error)
        {
            // It is an orphan; the next start removes it.
            _logger.LogWarning(error, "Could not remove the uncommitted cold file {File}", fileName);
        }
    }

    /// <summary>Deletes the retired files whose grace is over.</summary>
    public void DeleteRetiredFiles()
    {
        long now = _time.GetTimestamp();
        while (_obsolete.TryPeek(out var next) && next.DueAt <= now && _obsolete.TryDequeue(out next))
        {
            try
            {
                File.Delete(next.Path);
            }
            catch (IOException error)
            {
                _logger.LogWarning(error, "Could not remove the replaced cold file {File}; the next start removes it", next.Path);
            }
        }
    }
}
