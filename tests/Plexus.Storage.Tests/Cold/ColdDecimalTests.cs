using System.Globalization;
using Plexus.Storage.Cold;
using Plexus.Storage.Deleting;
using Plexus.TestKit;

namespace Plexus.Storage.Tests.Cold;

/// <summary>
/// A DOUBLE field the cold tier stores as a decimal reads back as the same DOUBLE, bit for bit, through every path that
/// writes a cold file (compaction, compaction merging late points into a file, a delete rewriting a file), and a field
/// that cannot be stored so keeps its DOUBLE.
/// </summary>
public sealed class ColdDecimalTests : IDisposable
{
    private const long Day0 = ColdTierTests.Day0;
    private const long Step = 60_000_000_000;
    private const int RowsPerDevice = 400;

    private static readonly string[] Devices = ["a", "b"];

    /// <summary>Each field's values, and the scale its column must get: the fewest decimals all of them have, or none.</summary>
    private static readonly (string Name, int? Scale, Func<Random, int, double?> Value)[] Fields =
    [
        ("whole", 0, (r, _) => Rounded((r.NextDouble() * 2000) - 1000, 0)),
        ("d1", 1, (r, _) => Rounded((r.NextDouble() * 200) - 100, 1)),
        ("d3", 3, (r, _) => Rounded((r.NextDouble() * 200) - 100, 3)),
        ("d6", 6, (r, _) => Rounded((r.NextDouble() * 2) - 1, 6)),
        ("mixed", 6, (r, _) => Rounded((r.NextDouble() * 2e4) - 1e4, r.Next(0, 7))),
        ("large", 2, (r, _) => Rounded((r.NextDouble() * 2e12) - 1e12, 2)),
        ("tiny", 9, (r, _) => Math.Round(r.NextDouble() * 1e-3, 9)),
        ("sparse", 2, (r, i) => i % 37 == 0 ? Math.Round(r.NextDouble() * 10, 2) : null),
        ("negzero", null, (r, i) => i == 77 ? -0.0 : Math.Round(r.NextDouble() * 10, 1)),
        ("nan", null, (r, i) => i == 5 ? double.NaN : Math.Round(r.NextDouble() * 10, 1)),
        ("inf", null, (r, i) => i == 6 ? double.PositiveInfinity : i == 7 ? double.NegativeInfinity : Math.Round(r.NextDouble() * 10, 1)),
        ("full", null, (r, _) => r.NextDouble() * 100),
        ("ten", null, (r, _) => Math.Round(r.NextDouble(), 10)),
        ("beyond", null, (r, _) => Math.Round((r.NextDouble() + 1) * 4e18)),
    ];

    // A negative that rounds to zero is -0.0, which no decimal holds: the field would rightly stay a DOUBLE.
    private static double Rounded(double value, int decimals) => Math.Round(value, decimals) + 0.0;

    private readonly TempDirectory _dir = new("plexus-cold-decimal");

    // What the store must hold: by device and time, each field's value (null where the point had none).
    private readonly SortedDictionary<(string Device, long Time), double?[]> _expected = [];

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Doubles_stored_as_decimals_read_back_bit_for_bit_through_compaction_merges_and_deletes_and_the_rest_stay_doubles()
    {
        await using var store = ColdTierTests.OpenStore(_dir.Path);
        var random = new Random(20260101);
        var points = new PointBuilder();
        foreach (string device in Devices)
        {
            for (int i = 0; i < RowsPerDevice; i++)
            {
                Add(points, device, Day0 + (i * Step), Fields.Select(f => f.Value(random, i)).ToArray());
            }
        }

        await store.Writer.WriteAsync("main", points.Batch);
        AssertStored(store);

        Assert.Equal(1, await store.CompactAsync());
        AssertStored(store);
        Assert.Equal(Fields.Select(f => f.Scale), Scales(store));
        Assert.All(StoreRows.Read(store, "SELECT data_type FROM duckdb_columns() WHERE table_name = 'm' AND column_name NOT IN ('time', 'device')"),
            row => Assert.Equal("DOUBLE", row[0]));

        // Late points merged into the file: d1 gains a value with four decimals, whole a -0.0, and a new row has only d3.
        var late = new PointBuilder();
        Add(late, "a", Day0 + (3 * Step), Fields.Select(f => f.Name == "d1" ? 12.3456 : (double?)null).ToArray());
        Add(late, "b", Day0 + (4 * Step), Fields.Select(f => f.Name == "whole" ? -0.0 : (double?)null).ToArray());
        Add(late, "b", Day0 + (4 * Step) + 1, Fields.Select(f => f.Name == "d3" ? -0.125 : (double?)null).ToArray());
        await store.Writer.WriteAsync("main", late.Batch);
        AssertStored(store);

        Assert.Equal(1, await store.CompactAsync());
        AssertStored(store);
        Assert.Equal(Fields.Select(f => f.Name switch { "d1" => 4, "whole" => null, _ => f.Scale }), Scales(store));

        // A delete that rewrites the file reads its decimals and writes them again.
        Assert.True(TagPredicate.TryParse("device = 'a'", out var deviceA, out _));
        var deleted = await store.Writer.DeleteAsync(new DeleteSelection("main", "m", Day0, Day0 + (100 * Step), deviceA));
        Assert.Equal(100, deleted.RowsDeleted);
        foreach (var key in _expected.Keys.Where(k => k.Device == "a" && k.Time < Day0 + (100 * Step)).ToList())
        {
            _expected.Remove(key);
        }

        AssertStored(store);
        Assert.Equal(Fields.Select(f => f.Name switch { "d1" => 1, "whole" => null, _ => f.Scale }), Scales(store));
    }

    /// <summary>Every row as expected, bit for bit; a failure shows the first row that differs, whole.</summary>
    private void AssertStored(PlexusStore store)
    {
        AssertSameLines(Expected(), Stored(store));
    }

    /// <summary>The same lines in the same order; a failure shows the first line that differs, whole.</summary>
    internal static void AssertSameLines(List<string> expected, List<string> stored)
    {
        var firstDifference = expected.Zip(stored).FirstOrDefault(pair => pair.First != pair.Second);
        Assert.Equal(firstDifference.First, firstDifference.Second);
        Assert.Equal(expected.Count, stored.Count);
    }

    private void Add(PointBuilder points, string device, long time, double?[] values)
    {
        points.Point("m", time, [("device", device)],
            [.. Fields.Zip(values).Where(p => p.Second is not null).Select(p => (p.First.Name, (object)p.Second!.Value))]);
        if (!_expected.TryGetValue((device, time), out var row))
        {
            _expected[(device, time)] = row = new double?[Fields.Length];
        }

        for (int f = 0; f < values.Length; f++)
        {
            // A later point wins field by field.
            row[f] = values[f] ?? row[f];
        }
    }

    /// <summary>One line per row: device, time and each field's bits (NULL where there is none).</summary>
    private List<string> Expected() => [.. _expected.Select(row => Line(row.Key.Device, row.Key.Time, row.Value.Select(v => (object?)v)))];

    private static List<string> Stored(PlexusStore store) =>
        [.. StoreRows.Read(store, $"SELECT device, epoch_ns(time), {string.Join(", ", Fields.Select(f => $"\"{f.Name}\""))} FROM main.m ORDER BY device, time")
            .Select(row => Line((string)row[0]!, Convert.ToInt64(row[1], CultureInfo.InvariantCulture), row.Skip(2)))];

    private static string Line(string device, long time, IEnumerable<object?> values) =>
        $"{device} {time} " + string.Join(" ", values.Zip(Fields, (v, f) => f.Name + "=" + (v is double d ? BitConverter.DoubleToInt64Bits(d).ToString("x16", CultureInfo.InvariantCulture) : "NULL")));

    /// <summary>The scale of each field in the measurement's one cold file, as the manifest has it.</summary>
    private static List<int?> Scales(PlexusStore store)
    {
        var row = Assert.Single(StoreRows.Read(store, $"SELECT fields, list_transform(field_scales, s -> coalesce(s, -1)) FROM {ColdStore.ManifestTable}"));
        var fields = ((System.Collections.IEnumerable)row[0]!).Cast<string>().ToList();
        var scales = ((System.Collections.IEnumerable)row[1]!).Cast<int>().ToList();
        return [.. Fields.Select(f => scales[fields.IndexOf(f.Name)] is var scale and >= 0 ? scale : (int?)null)];
    }
}
