using Plexus.Storage.Cold;
using Plexus.Storage.Deleting;
using Plexus.TestKit;

namespace Plexus.Storage.Tests.Cold;

public sealed class ColdTierTests : IDisposable
{
    private const long Day = 86_400_000_000_000;

    // 2026-01-01T00:00:00Z: far enough in the past that every partition of the test data is closed.
    internal const long Day0 = 1_767_225_600_000_000_000;

    private readonly TempDirectory _dir = new("plexus-cold");

    public void Dispose() => _dir.Dispose();

    private PlexusStore Open() => OpenStore(_dir.Path);

    /// <summary>A store whose compactions run when a test asks.</summary>
    internal static PlexusStore OpenStore(string dataDirectory) => PlexusStore.Open(new StorageOptions
    {
        DataDirectory = dataDirectory,
        Threads = 2,

        // The tests compact when they ask; the background check never comes in a test's time.
        ColdTier = new ColdTierOptions { Grace = TimeSpan.Zero, CheckInterval = TimeSpan.FromHours(1) },
    });

    private static long Count(PlexusStore store, string sql) => Convert.ToInt64(StoreRows.Read(store, sql)[0][0], System.Globalization.CultureInfo.InvariantCulture);

    private static string Rows(PlexusStore store, string sql) =>
        string.Join("\n", StoreRows.Read(store, sql).Select(row => string.Join("|", row.Select(v => v is null ? "NULL" : Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture)))));

    /// <summary>Two devices, two closed days of 10-minute readings, and one reading now (whose partition stays hot).</summary>
    private static async Task SeedAsync(PlexusStore store, long now)
    {
        var points = new PointBuilder();
        for (long t = Day0; t < Day0 + (2 * Day); t += 600_000_000_000)
        {
            foreach (string device in new[] { "a", "b" })
            {
                long minute = (t - Day0) / 60_000_000_000;
                points.Point("readings", t, [("device", device), ("site", "x")],
                    ("temp", Math.Round(20.0 + (10 * Math.Sin(minute / 100.0)), 3)), ("count", minute), ("state", minute % 2 == 0 ? "on" : "off"), ("ok", minute % 3 == 0));
            }
        }

        points.Point("readings", now, [("device", "a"), ("site", "x")], ("temp", 1.5), ("count", 1L), ("state", "now"), ("ok", true));
        await store.Writer.WriteAsync("main", points.Batch);
    }

    private static long NowNs() => (TimeProvider.System.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100;

    private const string AllRows = "SELECT device, site, epoch_ns(time), temp, count, state, ok FROM main.readings ORDER BY device, time";

    [Fact]
    public async Task Compaction_moves_closed_partitions_to_sorted_parquet_and_queries_see_the_same_rows()
    {
        await using var store = Open();
        long now = NowNs();
        await SeedAsync(store, now);
        string before = Rows(store, AllRows);

        Assert.Equal(2, await store.CompactAsync());

        Assert.Equal(before, Rows(store, AllRows));
        Assert.Equal(1, Count(store, "SELECT count(*) FROM _plexus.d1"));
        Assert.Equal(2, Count(store, $"SELECT count(*) FROM {ColdStore.ManifestTable}"));
        Assert.Equal(576, Count(store, $"SELECT sum(rows)::BIGINT FROM {ColdStore.ManifestTable}"));
        Assert.Equal(0, await store.CompactAsync());

        // The types SQL sees are the tables' own, whatever the encodings.
        Assert.Equal("TIMESTAMP_NS|VARCHAR|VARCHAR|DOUBLE|BIGINT|VARCHAR|BOOLEAN",
            string.Join("|", StoreRows.Read(store, "SELECT data_type FROM duckdb_columns() WHERE table_name = 'readings' ORDER BY column_index").Select(r => r[0])));
    }

    [Fact]
    public async Task Cold_files_are_sorted_by_series_then_time_with_per_column_encodings_and_readable_by_a_second_reader()
    {
        await using var store = Open();
        await SeedAsync(store, NowNs());
        await store.CompactAsync();

        var files = Directory.GetFiles(store.Cold.Directory, "*.parquet", SearchOption.AllDirectories).Order().ToArray();
        Assert.Equal(2, files.Length);
        string first = files[0];
        string encodings = Rows(store,
            $"SELECT path_in_schema, type, encodings, compression FROM parquet_metadata('{first}') WHERE row_group_id = 0 ORDER BY column_id");
        Assert.Equal(string.Join("\n",
            "_series_id|INT32|DELTA_BINARY_PACKED|ZSTD",
            "time|INT64|DELTA_BINARY_PACKED|ZSTD",
            "device|BYTE_ARRAY|DELTA_LENGTH_BYTE_ARRAY|ZSTD",
            "site|BYTE_ARRAY|DELTA_LENGTH_BYTE_ARRAY|ZSTD",
            "temp|INT64|DELTA_BINARY_PACKED|ZSTD",
            "count|INT64|DELTA_BINARY_PACKED|ZSTD",
            "state|BYTE_ARRAY|DELTA_LENGTH_BYTE_ARRAY|ZSTD",
            "ok|BOOLEAN|PLAIN|ZSTD"), encodings);
        Assert.Equal("DecimalType(scale=3, precision=18)", Rows(store, $"SELECT logical_type FROM parquet_schema('{first}') WHERE name = 'temp'"));

        var columns = await ParquetFile.ReadAsync(first);
        Assert.Equal(["_series_id", "time", "device", "site", "temp", "count", "state", "ok"], columns.Keys);
        Assert.Equal(288, columns["time"].Count);
        Assert.Equal("Nanos", (await ParquetFile.TimestampColumns(first))["time"]);
        var keys = columns["_series_id"].Zip(columns["time"], (series, time) => ((int)series!, (long)time!)).ToList();
        Assert.Equal(keys.OrderBy(k => k.Item1).ThenBy(k => k.Item2), keys);
        Assert.Equal(Day0, keys.Min(k => k.Item2));
        Assert.Equal(Rows(store, $"SELECT device, temp, count, state, ok FROM main.readings WHERE time < make_timestamp_ns({Day0 + Day}) ORDER BY device, time"),
            string.Join("\n", Enumerable.Range(0, 288).Select(i => string.Join("|",
                new[] { "device", "temp", "count", "state", "ok" }.Select(c => Convert.ToString(AsStored(columns[c][i]), System.Globalization.CultureInfo.InvariantCulture))))));
    }

    // A decimal is a DOUBLE stored scaled: the view reads it as the nearest double, which is what parsing its digits gives.
    private static object? AsStored(object? value) => value is decimal scaled
        ? double.Parse(scaled.ToString(System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture)
        : value;

    [Fact]
    public async Task A_late_point_for_a_cold_partition_wins_field_by_field_at_once_and_is_folded_into_its_file_by_the_next_compaction()
    {
        await using var store = Open();
        await SeedAsync(store, NowNs());
        await store.CompactAsync();

        long t = Day0 + 600_000_000_000;
        await store.Writer.WriteAsync("main", new PointBuilder()
            .Point("readings", t, [("device", "a"), ("site", "x")], ("temp", 99.5))
            .Point("readings", t + 1, [("device", "a"), ("site", "x")], ("temp", 7.0))
            .Batch);

        const string Late = "SELECT epoch_ns(time), temp, count, state FROM main.readings WHERE device = 'a' AND time BETWEEN make_timestamp_ns({0}) AND make_timestamp_ns({1}) ORDER BY time";
        string query = string.Format(System.Globalization.CultureInfo.InvariantCulture, Late, t, t + 1);
        string expected = $"{t}|99.5|10|on\n{t + 1}|7|NULL|NULL";
        Assert.Equal(expected, Rows(store, query));
        Assert.Equal(578, Count(store, "SELECT count(*) FROM main.readings"));
        Assert.Equal(578, Count(store, "SELECT count(*) FROM (SELECT DISTINCT device, time FROM main.readings)"));

        Assert.Equal(1, await store.CompactAsync());

        Assert.Equal(expected, Rows(store, query));
        Assert.Equal(578, Count(store, "SELECT count(*) FROM main.readings"));
        Assert.Equal(1, Count(store, "SELECT count(*) FROM _plexus.d1"));
        Assert.Equal(2, Count(store, $"SELECT count(*) FROM {ColdStore.ManifestTable}"));
    }

    [Fact]
    public async Task Reopening_the_store_removes_files_no_partition_names_and_reads_the_cold_tier_as_before()
    {
        string before;
        string orphan;
        await using (var store = Open())
        {
            await SeedAsync(store, NowNs());
            await store.CompactAsync();
            before = Rows(store, AllRows);
            orphan = Path.Combine(store.Cold.Directory, "m1", "20260101T000000Z-g99.parquet");
            File.Copy(Directory.GetFiles(Path.Combine(store.Cold.Directory, "m1"))[0], orphan);
            File.WriteAllText(orphan + ".tmp", "torn");
        }

        await using (var store = Open())
        {
            Assert.False(File.Exists(orphan));
            Assert.False(File.Exists(orphan + ".tmp"));
            Assert.Equal(before, Rows(store, AllRows));
        }
    }

    [Fact]
    public async Task A_delete_removes_cold_rows_rewriting_a_partly_selected_partition_and_dropping_a_wholly_selected_one()
    {
        await using var store = Open();
        await SeedAsync(store, NowNs());
        await store.CompactAsync();
        Assert.True(TagPredicate.TryParse("device = 'a'", out var deviceA, out _));

        // Device a's first six hours of day 0: 36 rows, out of the middle of a file.
        var partly = await store.Writer.DeleteAsync(new DeleteSelection("main", "readings", Day0, Day0 + (Day / 4), deviceA));
        Assert.Equal(36, partly.RowsDeleted);
        Assert.Equal(0, Count(store, $"SELECT count(*) FROM main.readings WHERE device = 'a' AND time < make_timestamp_ns({Day0 + (Day / 4)})"));
        Assert.Equal(144, Count(store, $"SELECT count(*) FROM main.readings WHERE device = 'b' AND time < make_timestamp_ns({Day0 + Day})"));

        // All of day 1, and nothing else: its file goes whole.
        var whole = await store.Writer.DeleteAsync(new DeleteSelection("main", "readings", Day0 + Day, Day0 + (2 * Day)));
        Assert.Equal(288, whole.RowsDeleted);
        Assert.Equal(576 - 36 - 288 + 1, Count(store, "SELECT count(*) FROM main.readings"));
        Assert.Equal(1, Count(store, $"SELECT count(*) FROM {ColdStore.ManifestTable}"));
        Assert.Equal(252, Count(store, $"SELECT sum(rows)::BIGINT FROM {ColdStore.ManifestTable}"));
    }

    [Fact]
    public async Task A_delete_with_an_open_end_rewrites_the_cold_partitions_it_reaches_in_part()
    {
        await using var store = Open();
        await SeedAsync(store, NowNs());
        await store.CompactAsync();
        Assert.True(TagPredicate.TryParse("device = 'b'", out var deviceB, out _));

        // From the middle of day 1 on, no end: half of b's day 1 (72 rows) goes from the middle of a file.
        var fromOnly = await store.Writer.DeleteAsync(new DeleteSelection("main", "readings", FromNs: Day0 + Day + (Day / 2), Where: deviceB));
        Assert.Equal(72, fromOnly.RowsDeleted);

        // Up to the middle of day 0, no start.
        var toOnly = await store.Writer.DeleteAsync(new DeleteSelection("main", "readings", ToNs: Day0 + (Day / 2), Where: deviceB));
        Assert.Equal(72, toOnly.RowsDeleted);
        Assert.Equal(144, Count(store, "SELECT count(*) FROM main.readings WHERE device = 'b'"));
        Assert.Equal(289, Count(store, "SELECT count(*) FROM main.readings WHERE device = 'a'"));
    }

    [Fact]
    public async Task Dropping_a_measurement_counts_its_cold_rows_and_forgets_its_partitions()
    {
        await using var store = Open();
        await SeedAsync(store, NowNs());
        await store.CompactAsync();

        var result = await store.Writer.DeleteAsync(new DeleteSelection("main", "readings"));

        Assert.Equal(577, result.RowsDeleted);
        Assert.Equal(0, Count(store, $"SELECT count(*) FROM {ColdStore.ManifestTable}"));
    }
}
