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

    /// <summary>The most decimals a DOUBLE field may have and still be stored as a decimal.</summary>
    public const int MaxScale = 9;

    private const string TempSuffix = ".tmp";

    // The decimal width DuckDB writes as a FIXED_LEN_BYTE_ARRAY, which it encodes PLAIN (WideDecimals says why).
    private const int WideDecimalWidth = 38;

    // The trial's sample: on the TSBS-IoT data one series in 8 chose as the whole partition did, for a fraction of
    // its time (zstd level 19 over 16-byte values is what costs).
    private const int TrialSeriesOneIn = 8;

    // How the manifest's query gives a field stored as its own type (a list of nullable integers does not read back as one).
    private const int Unscaled = -1;

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

    public static void EnsureCreated(DuckDBConnection connection)
    {
        Catalog.Execute(connection,
            $"CREATE TABLE IF NOT EXISTS {ManifestTable} (measurement_id INTEGER NOT NULL, partition_start BIGINT NOT NULL, " +
            "partition_end BIGINT NOT NULL, file VARCHAR NOT NULL, generation BIGINT NOT NULL, rows BIGINT NOT NULL, bytes BIGINT NOT NULL, " +
            "min_time TIMESTAMP_NS NOT NULL, max_time TIMESTAMP_NS NOT NULL, fields VARCHAR[] NOT NULL)");

        // Added after the first stores were made: their rows read NULL here, which is what they are (no field scaled).
        Catalog.Execute(connection, $"ALTER TABLE {ManifestTable} ADD COLUMN IF NOT EXISTS field_scales INTEGER[]");
    }

    /// <summary>Every partition of the manifest, by measurement id, oldest first.</summary>
    public static Dictionary<int, List<ColdPartition>> LoadManifest(DuckDBConnection connection)
    {
        var partitions = new Dictionary<int, List<ColdPartition>>();
        MetadataConnection.ForEachRow(connection,
            $"SELECT measurement_id, partition_start, partition_end, file, generation, rows, bytes, epoch_ns(min_time), epoch_ns(max_time), fields, " +
            $"coalesce(list_transform(field_scales, s -> coalesce(s, {Unscaled})), list_transform(fields, f -> {Unscaled})) FROM {ManifestTable} ORDER BY measurement_id, partition_start",
            reader =>
            {
                var fields = ((IEnumerable<object>)reader.GetValue(9)).Select(f => (string)f).ToArray();
                var scales = ((System.Collections.IEnumerable)reader.GetValue(10)).Cast<object>().Select(s => Convert.ToInt32(s, CultureInfo.InvariantCulture) is var scale && scale == Unscaled ? (int?)null : scale).ToArray();
                var partition = new ColdPartition(reader.GetInt32(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetString(3), reader.GetInt64(4),
                    reader.GetInt64(5), reader.GetInt64(6), reader.GetInt64(7), reader.GetInt64(8), fields, scales);
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
        string scales = "[" + string.Join(", ", partition.Scales.Select(s => s?.ToString(CultureInfo.InvariantCulture) ?? "NULL")) + "]::INTEGER[]";
        Catalog.Execute(connection,
            $"INSERT INTO {ManifestTable} VALUES ($1, $2, $3, $4, $5, $6, $7, make_timestamp_ns($8), make_timestamp_ns($9), {fields}, {scales})",
            partition.MeasurementId, partition.StartNs, partition.EndNs, partition.FileName, partition.Generation, partition.Rows,
            partition.Bytes, partition.MinTimeNs, partition.MaxTimeNs);
    }

    public static void DeleteManifest(DuckDBConnection connection, ColdPartition partition) => Catalog.Execute(connection,
        $"DELETE FROM {ManifestTable} WHERE measurement_id = $1 AND partition_start = $2", partition.MeasurementId, partition.StartNs);

    public static void DeleteManifest(DuckDBConnection connection, int measurementId) => Catalog.Execute(connection,
        $"DELETE FROM {ManifestTable} WHERE measurement_id = $1", measurementId);

    /// <summary>
    /// Writes the rows of <paramref name="selectSql"/> (columns <c>_series_id, time</c>, the tags, the fields, in any
    /// order) sorted by series and time into a new synced file of the cold folder, not yet named by the manifest. A
    /// floating-point field may come as DOUBLE or, read from a cold file, as the DECIMAL it was stored as. Null when the
    /// select gives no rows (nothing is left on disk then).
    /// </summary>
    public ColdPartition? Write(DuckDBConnection connection, int measurementId, long startNs, long endNs, string selectSql, IReadOnlyList<string> fields)
    {
        long generation = Interlocked.Increment(ref _nextGeneration) - 1;
        string start = DateTimeOffset.UnixEpoch.AddTicks(startNs / 100).ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        string fileName = $"m{measurementId}/{start}-g{generation}.parquet";
        string path = PathOf(fileName);
        string temp = path + TempSuffix;
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);

        var columns = new List<(string Name, string Type)>();
        MetadataConnection.ForEachRow(connection, "DESCRIBE " + selectSql, reader => columns.Add((reader.GetString(0), reader.GetString(1))));
        var fieldNames = new HashSet<string>(fields, StringComparer.Ordinal);
        var floats = columns.Where(c => fieldNames.Contains(c.Name) && (c.Type == "DOUBLE" || c.Type.StartsWith("DECIMAL", StringComparison.Ordinal)))
            .Select(c => c.Name).ToList();
        var (scaleOf, negativeZeros) = DecimalScales(connection, selectSql, floats);
        var wide = WideDecimals(connection, selectSql, scaleOf, temp);

        var copy = new StringBuilder("COPY (SELECT ");
        for (int i = 0; i < columns.Count; i++)
        {
            string name = SqlNames.Quote(columns[i].Name);
            copy.Append(i > 0 ? ", " : "");
            if (scaleOf.TryGetValue(columns[i].Name, out int? scale))
            {
                copy.Append(scale is { } k ? $"CAST(CAST({name} AS DOUBLE) AS DECIMAL({(wide.Contains(columns[i].Name) ? WideDecimalWidth : 18)}, {k}))" : $"CAST({name} AS DOUBLE)")
                    .Append(" AS ").Append(name);
            }
            else
            {
                copy.Append(name);
            }
        }

        // Version 2 pages give DELTA_BINARY_PACKED to timestamps, integers and decimals and BYTE_STREAM_SPLIT to doubles.
        // Sorted by series then time, a regular series' timestamps and a slowly changing reading's scaled integers delta
        // to a few bits. Dictionaries win only for doubles with few distinct values (their indexes compress better than
        // eight bytes a value); everywhere else they lose to deltas (a random walk's indexes are noise to zstd) and, for
        // tags, to zstd over runs of the same string, so a file with no DOUBLE left has none. Nor has a file whose
        // doubles hold a -0.0: DuckDB's dictionary keeps one of 0.0 and -0.0 for both. docs/storage.md#hot-and-cold-tiers
        // has the figures. The view casts decimals back to DOUBLE, so the encodings never change what SQL sees.
        // zstd level 19 over 9: 8 % fewer bytes for about twice the compaction time, once per partition in the
        // background; reading decompresses as fast.
        bool dictionaries = scaleOf.Values.Any(scale => scale is null) && !negativeZeros;
        copy.Append(" FROM (").Append(selectSql).Append(") ORDER BY ").Append(SqlNames.SeriesIdColumn).Append(", ").Append(SqlNames.TimeColumn)
            .Append(") TO ").Append(SqlNames.Literal(temp))
            .Append(" (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 19, PARQUET_VERSION v2, ROW_GROUP_SIZE 1000000")
            .Append(dictionaries ? ")" : ", DICTIONARY_SIZE_LIMIT 0)");
        Catalog.Execute(connection, copy.ToString());
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
            return new ColdPartition(measurementId, startNs, endNs, fileName, generation, rows, new FileInfo(path).Length, min, max, fields,
                [.. fields.Select(f => scaleOf.TryGetValue(f, out int? scale) ? scale : null)]);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>
    /// The scaled fields that take fewer bytes as <c>DECIMAL(38,k)</c> than as <c>DECIMAL(18,k)</c>: a trial file holds
    /// each scaled field both ways for one series in <see cref="TrialSeriesOneIn"/> (whole series, so as many jumps
    /// between series per row as the real file), sorted as the real file will be, and its footer tells each column's
    /// compressed size. No series in the sample, no wide decimal.
    /// </summary>
    /// <remarks>
    /// DuckDB cannot choose an encoding per column, but it chooses one per physical type: DECIMAL(18,k) is INT64 with
    /// DELTA_BINARY_PACKED, DECIMAL(38,k) a 16-byte FIXED_LEN_BYTE_ARRAY written PLAIN, left to zstd. A delta block
    /// spans several series, and the jump between two series' values (a negative one widens every miniblock of the
    /// block) costs a random walk such as a latitude more than zstd pays for plain values; a steady reading deltas
    /// better. Both are the same scaled integer, so the value and the view's cast back to DOUBLE are the same either way.
    /// The trial file lies in the cold folder under a name no manifest row has, so a crash leaves it to <see cref="Open"/>.
    /// </remarks>
    private static HashSet<string> WideDecimals(DuckDBConnection connection, string selectSql, Dictionary<string, int?> scaleOf, string temp)
    {
        var wide = new HashSet<string>(StringComparer.Ordinal);
        var scaled = scaleOf.Where(f => f.Value is not null).Select(f => (Name: f.Key, Scale: f.Value!.Value)).ToList();
        if (scaled.Count == 0)
        {
            return wide;
        }

        string trial = temp + ".trial";
        var copy = new StringBuilder("COPY (SELECT ");
        for (int i = 0; i < scaled.Count; i++)
        {
            string x = $"CAST({SqlNames.Quote(scaled[i].Name)} AS DOUBLE)";
            copy.Append(i > 0 ? ", " : "").Append($"CAST({x} AS DECIMAL(18, {scaled[i].Scale})) AS n{i}, CAST({x} AS DECIMAL({WideDecimalWidth}, {scaled[i].Scale})) AS w{i}");
        }

        copy.Append(" FROM (").Append(selectSql).Append(") WHERE hash(").Append(SqlNames.SeriesIdColumn).Append(") % ").Append(TrialSeriesOneIn)
            .Append(" = 0 ORDER BY ").Append(SqlNames.SeriesIdColumn).Append(", ").Append(SqlNames.TimeColumn)
            .Append(") TO ").Append(SqlNames.Literal(trial))
            .Append(" (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 19, PARQUET_VERSION v2, ROW_GROUP_SIZE 1000000, DICTIONARY_SIZE_LIMIT 0)");
        try
        {
            Catalog.Execute(connection, copy.ToString());
            var bytes = new Dictionary<string, long>(StringComparer.Ordinal);
            MetadataConnection.ForEachRow(connection,
                $"SELECT path_in_schema, sum(total_compressed_size)::BIGINT FROM parquet_metadata({SqlNames.Literal(trial)}) GROUP BY 1",
                reader => bytes[reader.GetString(0)] = reader.GetInt64(1));
            for (int i = 0; i < scaled.Count; i++)
            {
                if (bytes.GetValueOrDefault($"w{i}", long.MaxValue) < bytes.GetValueOrDefault($"n{i}", long.MaxValue))
                {
                    wide.Add(scaled[i].Name);
                }
            }
        }
        finally
        {
            File.Delete(trial);
        }

        return wide;
    }

    /// <summary>
    /// For each floating-point field, the fewest decimals k (up to <see cref="MaxScale"/>) with which every value of the
    /// rows reads back from DECIMAL(18,k) as the same DOUBLE, bit for bit; null where there is none: a NaN, an infinity,
    /// a -0.0 (a decimal has no negative zero), a value beyond the decimal's range or with more decimals. One pass over
    /// the rows tests every field at every scale, and tells whether any of the fields holds a -0.0.
    /// </summary>
    /// <remarks>
    /// The test is the read path itself: the view reads a scaled column with the same CAST from DECIMAL(18,k) to DOUBLE,
    /// so a value that passes here is the value a query gets. Equal finite non-zero doubles have equal bits; zeros are
    /// told apart by their sign.
    /// </remarks>
    private static (Dictionary<string, int?> Scales, bool NegativeZeros) DecimalScales(DuckDBConnection connection, string selectSql, List<string> floats)
    {
        var scales = floats.ToDictionary(f => f, _ => (int?)null, StringComparer.Ordinal);
        bool negativeZeros = false;
        if (floats.Count == 0)
        {
            return (scales, negativeZeros);
        }

        var sql = new StringBuilder("SELECT ");
        var negativeZero = new List<string>();
        foreach (string field in floats)
        {
            string x = $"CAST({SqlNames.Quote(field)} AS DOUBLE)";
            negativeZero.Add($"({x} = 0 AND signbit({x}))");
            for (int k = 0; k <= MaxScale; k++)
            {
                sql.Append($"bool_and({x} IS NULL OR coalesce(isfinite({x}) AND NOT {negativeZero[^1]} AND TRY_CAST(TRY_CAST({x} AS DECIMAL(18, {k})) AS DOUBLE) = {x}, false)), ");
            }
        }

        sql.Append("coalesce(bool_or(").AppendJoin(" OR ", negativeZero).Append("), false) FROM (").Append(selectSql).Append(')');
        MetadataConnection.ForEachRow(connection, sql.ToString(), reader =>
        {
            negativeZeros = reader.GetBoolean(reader.FieldCount - 1);
            for (int f = 0; f < floats.Count; f++)
            {
                for (int k = 0; k <= MaxScale; k++)
                {
                    int column = (f * (MaxScale + 1)) + k;
                    if (!reader.IsDBNull(column) && reader.GetBoolean(column))
                    {
                        scales[floats[f]] = k;
                        break;
                    }
                }
            }
        });
        return (scales, negativeZeros);
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
