using System.Globalization;
using Plexus.Storage.Deleting;
using Plexus.TestKit;

namespace Plexus.Storage.Tests.Cold;

/// <summary>
/// A scaled field whose values jump between series (a random walk such as a latitude) is stored as a 16-byte PLAIN
/// decimal, a steady one as a delta-packed INT64, and both read back as the same DOUBLEs, bit for bit, through
/// compaction, a merge of late points and a delete that rewrites the file, in DuckDB and in Parquet.Net.
/// </summary>
public sealed class ColdWideDecimalTests : IDisposable
{
    private const long Day0 = ColdTierTests.Day0;
    private const long Step = 60_000_000_000;
    private const int Devices = 64;
    private const int RowsPerDevice = 400;

    private readonly TempDirectory _dir = new("plexus-cold-wide");

    // By device and time: the walk's and the counter's values.
    private readonly SortedDictionary<(string Device, long Time), (double Walk, double Steady)> _expected = [];

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task A_walk_that_jumps_between_series_is_stored_as_a_plain_wide_decimal_and_every_value_reads_back_bit_for_bit()
    {
        await using var store = ColdTierTests.OpenStore(_dir.Path);
        var random = new Random(20261206);
        var points = new PointBuilder();
        for (int d = 0; d < Devices; d++)
        {
            double walk = Math.Round((random.NextDouble() * 180) - 90, 5);
            for (int i = 0; i < RowsPerDevice; i++)
            {
                walk = Math.Round(walk + ((random.NextDouble() - 0.5) * 0.02), 5) + 0.0;
                Add(points, Device(d), Day0 + (i * Step), walk, i);
            }
        }

        await store.Writer.WriteAsync("main", points.Batch);
        Assert.Equal(1, await store.CompactAsync());
        AssertStored(store);
        string file = Assert.Single(Directory.GetFiles(store.Cold.Directory, "*.parquet", SearchOption.AllDirectories));
        Assert.Equal("steady|INT64|DELTA_BINARY_PACKED\nwalk|FIXED_LEN_BYTE_ARRAY|PLAIN", Encodings(store, file));
        Assert.Equal(["DOUBLE", "DOUBLE"], StoreRows.Read(store,
            "SELECT data_type FROM duckdb_columns() WHERE table_name = 'm' AND column_name IN ('steady', 'walk') ORDER BY column_name").Select(r => r[0]));

        // Parquet.Net reads the wide decimal as a decimal whose digits are the DOUBLE's.
        var columns = await ParquetFile.ReadAsync(file);
        Assert.Equal(
            _expected.Values.Select(v => v.Walk).Order(),
            columns["walk"].Select(v => double.Parse(((decimal)v!).ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture)).Order());

        // Late points merged into the file read the wide decimal back and write it again.
        var late = new PointBuilder();
        Add(late, Device(3), Day0 + (5 * Step), -12.34567, 5);
        Add(late, Device(7), Day0 + (RowsPerDevice * Step), 45.5, RowsPerDevice);
        await store.Writer.WriteAsync("main", late.Batch);
        AssertStored(store);
        Assert.Equal(1, await store.CompactAsync());
        AssertStored(store);

        // So does a delete that rewrites it.
        Assert.True(TagPredicate.TryParse($"device = '{Device(0)}'", out var device0, out _));
        var deleted = await store.Writer.DeleteAsync(new DeleteSelection("main", "m", Day0, Day0 + (RowsPerDevice * Step), device0));
        Assert.Equal(RowsPerDevice, deleted.RowsDeleted);
        foreach (var key in _expected.Keys.Where(k => k.Device == Device(0)).ToList())
        {
            _expected.Remove(key);
        }

        AssertStored(store);
        file = Assert.Single(Directory.GetFiles(store.Cold.Directory, "*.parquet", SearchOption.AllDirectories), f => !IsRetired(store, f));
        Assert.Contains("walk|FIXED_LEN_BYTE_ARRAY|PLAIN", Encodings(store, file), StringComparison.Ordinal);
    }

    private static string Device(int d) => $"d{d:D2}";

    private static bool IsRetired(PlexusStore store, string file) =>
        StoreRows.Read(store, $"SELECT count(*) FROM _plexus.cold_partitions WHERE '{store.Cold.Directory}' || file = '{file}'")[0][0] is 0L;

    private static string Encodings(PlexusStore store, string file) => string.Join("\n", StoreRows.Read(store,
        $"SELECT path_in_schema, type, encodings FROM parquet_metadata('{file}') WHERE path_in_schema IN ('walk', 'steady') ORDER BY 1")
        .Select(row => string.Join("|", row)));

    private void Add(PointBuilder points, string device, long time, double walk, double steady)
    {
        points.Point("m", time, [("device", device)], ("walk", walk), ("steady", steady));
        _expected[(device, time)] = (walk, steady);
    }

    /// <summary>Every row as expected, bit for bit; a failure shows the first row that differs.</summary>
    private void AssertStored(PlexusStore store)
    {
        var expected = _expected.Select(row => Line(row.Key.Device, row.Key.Time, row.Value.Walk, row.Value.Steady)).ToList();
        var stored = StoreRows.Read(store, "SELECT device, epoch_ns(time), walk, steady FROM main.m ORDER BY device, time")
            .Select(row => Line((string)row[0]!, Convert.ToInt64(row[1], CultureInfo.InvariantCulture), (double)row[2]!, (double)row[3]!)).ToList();
        ColdDecimalTests.AssertSameLines(expected, stored);
    }

    private static string Line(string device, long time, double walk, double steady) => string.Create(CultureInfo.InvariantCulture,
        $"{device} {time} walk={BitConverter.DoubleToInt64Bits(walk):x16} steady={BitConverter.DoubleToInt64Bits(steady):x16}");
}
