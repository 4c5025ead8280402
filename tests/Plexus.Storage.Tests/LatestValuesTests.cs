using System.Globalization;
using Plexus.Storage.Deleting;
using Plexus.Storage.Tests.Cold;
using Plexus.Storage.Writing;
using Plexus.TestKit;

namespace Plexus.Storage.Tests;

public sealed class LatestValuesTests : IDisposable
{
    private const long Day = 86_400_000_000_000;
    private const long Minute = 60_000_000_000;

    private readonly TempDirectory _dir = new("plexus-latest");

    public void Dispose() => _dir.Dispose();

    private PlexusStore Open() => ColdTierTests.OpenStore(_dir.Path);

    private static string Rows(PlexusStore store, string sql) =>
        string.Join("\n", StoreRows.Read(store, sql).Select(row => string.Join("|", row.Select(v => v is null ? "NULL" : Convert.ToString(v, CultureInfo.InvariantCulture)))));

    // What the view must equal: the newest row of each series of the measurement's own view, both tiers, merged.
    private const string Expected =
        "SELECT device, site, epoch_ns(time), temp, speed, note FROM main.readings " +
        "QUALIFY row_number() OVER (PARTITION BY device, site ORDER BY time DESC) = 1 ORDER BY device, site";

    private const string Latest = "SELECT device, site, epoch_ns(time), temp, speed, note FROM main.readings_latest ORDER BY device, site";

    private static void AssertLatestIsNewestRow(PlexusStore store, string when)
    {
        string expected = Rows(store, Expected);
        string latest = Rows(store, Latest);
        Assert.True(expected == latest, $"{when}:\nexpected\n{expected}\nlatest\n{latest}");
    }

    [Fact]
    public async Task The_latest_view_holds_each_series_newest_row_through_late_points_duplicates_compaction_deletes_and_a_restart()
    {
        var random = new Random(7);
        string[] devices = ["a", "b", "c", "d"];
        long day0 = ColdTierTests.Day0;
        var store = Open();

        // Fold the latest-values table at every commit, so that the folded and the appended forms both meet every case.
        GroupCommitter.LatestFoldSlack = 0;
        try
        {
            // Seed three closed days, so that compaction has partitions to move, and some rows of every series.
            var seed = new PointBuilder();
            foreach (string device in devices)
            {
                for (long t = day0; t < day0 + (3 * Day); t += 90 * Minute)
                {
                    seed.Point("readings", t, [("device", device), ("site", "x")], ("temp", random.Next(100) / 4.0), ("speed", (long)random.Next(50)));
                }
            }

            seed.Point("readings", day0, [("device", "a"), ("site", "x")], ("note", "seed"));
            await store.Writer.WriteAsync("main", seed.Batch);
            AssertLatestIsNewestRow(store, "after the seed");

            for (int round = 0; round < 12; round++)
            {
                var points = new PointBuilder();
                int count = random.Next(1, 30);
                for (int i = 0; i < count; i++)
                {
                    string device = devices[random.Next(devices.Length)];
                    string site = random.Next(4) == 0 ? "y" : "x";

                    // Mostly newer points, some late ones and exact repeats of a recent time (a duplicate to merge).
                    long t = random.Next(5) switch
                    {
                        0 => day0 + (random.Next(3 * 24 * 60) * Minute),
                        1 => day0 + (3 * Day) + (random.Next(round + 1) * 15 * Minute),
                        _ => day0 + (3 * Day) + (round * 60 * Minute) + (random.Next(60) * Minute),
                    };

                    // Points carry some of the fields only, so that a duplicate merges field by field and a newer
                    // point without a field leaves it NULL in the newest row.
                    var fields = new List<(string, object)>();
                    if (random.Next(3) > 0)
                    {
                        fields.Add(("temp", random.Next(100) / 4.0));
                    }

                    if (random.Next(2) == 0)
                    {
                        fields.Add(("speed", (long)random.Next(50)));
                    }

                    if (fields.Count == 0 || random.Next(4) == 0)
                    {
                        fields.Add(("note", "n" + round + "-" + i));
                    }

                    points.Point("readings", t, [("device", device), ("site", site)], [.. fields]);
                }

                await store.Writer.WriteAsync("main", points.Batch);
                AssertLatestIsNewestRow(store, $"after write {round}");

                switch (round)
                {
                    case 3:
                        await store.CompactAsync();
                        AssertLatestIsNewestRow(store, "after a compaction");
                        break;
                    case 6:
                        // The newest rows of device b go: its latest row is its newest remaining one.
                        await store.Writer.DeleteAsync(new DeleteSelection("main", "readings", FromNs: day0 + (2 * Day), Where: Where("device = 'b'")));
                        AssertLatestIsNewestRow(store, "after a delete of b's newest rows");
                        break;
                    case 8:
                        await store.DisposeAsync();
                        store = Open();
                        AssertLatestIsNewestRow(store, "after a restart");
                        break;
                    case 10:
                        // Every row of device c: it has no latest row any more.
                        await store.Writer.DeleteAsync(new DeleteSelection("main", "readings", Where: Where("device = 'c'")));
                        AssertLatestIsNewestRow(store, "after deleting all of c");
                        Assert.DoesNotContain("c|", Rows(store, Latest), StringComparison.Ordinal);
                        break;
                }
            }
        }
        finally
        {
            GroupCommitter.LatestFoldSlack = 10_000;
            await store.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_duplicate_of_a_cold_newest_row_merges_into_it_field_by_field()
    {
        long t = ColdTierTests.Day0 + Day;
        await using var store = Open();
        await store.Writer.WriteAsync("main", new PointBuilder()
            .Point("readings", t - Minute, [("device", "a"), ("site", "x")], ("temp", 1.0))
            .Point("readings", t, [("device", "a"), ("site", "x")], ("temp", 2.0), ("speed", 5L)).Batch);
        Assert.Equal(2, await store.CompactAsync());
        await store.DisposeAsync();

        // After a restart the writer knows the series' newest time only from the latest-values table (no hot rows).
        await using var reopened = Open();
        await reopened.Writer.WriteAsync("main", new PointBuilder().Point("readings", t, [("device", "a"), ("site", "x")], ("note", "late")).Batch);

        Assert.Equal($"a|x|{t}|2|5|late", Rows(reopened, Latest));
        AssertLatestIsNewestRow(reopened, "after the duplicate");
    }

    [Fact]
    public async Task Every_measurement_has_a_latest_view_with_its_columns_and_names_ending_in_latest_are_refused()
    {
        await using var store = Open();
        var result = await store.Writer.WriteAsync("fleet", new PointBuilder()
            .Point("positions", 10, [("truck", "t1")], ("lat", 52.5), ("lon", 13.4))
            .Point("positions", 20, [("truck", "t1")], ("lat", 52.6))
            .Point("cpu_Latest", 10, null, ("v", 1.0)).Batch);

        Assert.Equal(2, result.PointsWritten);
        var refusal = Assert.Single(result.Rejected);
        Assert.Contains("names ending in \"_latest\" are reserved for the latest-values views", refusal.Reason, StringComparison.Ordinal);
        Assert.Equal("t1|20|52.6|NULL", Rows(store, "SELECT truck, epoch_ns(time), lat, lon FROM fleet.positions_latest"));
        Assert.Equal("time|truck|lat|lon", string.Join("|", StoreRows.Read(store,
            "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'fleet' AND table_name = 'positions_latest' ORDER BY column_index").Select(r => r[0])));

        // A new field reaches the view with the next write.
        await store.Writer.WriteAsync("fleet", new PointBuilder().Point("positions", 30, [("truck", "t1")], ("lat", 52.7), ("heading", 90L)).Batch);
        Assert.Equal("t1|30|52.7|NULL|90", Rows(store, "SELECT truck, epoch_ns(time), lat, lon, heading FROM fleet.positions_latest"));

        // Dropping the measurement drops its latest view.
        await store.Writer.DeleteAsync(new DeleteSelection("fleet", "positions"));
        Assert.Equal("0", Rows(store, "SELECT count(*) FROM duckdb_views() WHERE schema_name = 'fleet' AND view_name = 'positions_latest'"));
    }

    [Fact]
    public async Task Once_no_write_waits_the_latest_table_is_folded_to_one_row_per_series()
    {
        await using var store = Open();
        for (int write = 1; write <= 3; write++)
        {
            await store.Writer.WriteAsync("main", new PointBuilder()
                .Point("readings", write * 10, [("device", "a"), ("site", "x")], ("temp", (double)write))
                .Point("readings", write * 10, [("device", "b"), ("site", "x")], ("speed", (long)write), ("note", "w" + write)).Batch);
        }

        // Each write appended a row per series; the writer folds them when its queue is empty.
        var deadline = TimeProvider.System.GetUtcNow().AddSeconds(30);
        while (Rows(store, "SELECT count(*) FROM _plexus.l1") != "2")
        {
            Assert.True(TimeProvider.System.GetUtcNow() < deadline, "the latest-values table was not folded: " + Rows(store, "SELECT count(*) FROM _plexus.l1"));
            await Task.Delay(20);
        }

        Assert.Equal("a|x|30|3|NULL|NULL\nb|x|30|NULL|3|w3", Rows(store, Latest));
    }

    [Fact]
    public async Task A_store_made_before_latest_tables_gets_them_filled_from_both_tiers_at_start()
    {
        long t = ColdTierTests.Day0;
        await using (var store = Open())
        {
            await store.Writer.WriteAsync("main", new PointBuilder()
                .Point("readings", t, [("device", "a"), ("site", "x")], ("temp", 1.0), ("speed", 1L))
                .Point("readings", t + Day, [("device", "b"), ("site", "x")], ("temp", 2.0))
                .Point("readings", t + (3 * Day), [("device", "a"), ("site", "x")], ("temp", 3.0), ("note", "hot")).Batch);
            Assert.Equal(3, await store.CompactAsync());
            using var connection = store.OpenMetadataConnection();
            connection.Execute("DROP VIEW main.readings_latest");
            connection.Execute("DROP TABLE _plexus.l1");
        }

        await using var reopened = Open();
        Assert.Equal($"a|x|{t + (3 * Day)}|3|NULL|hot\nb|x|{t + Day}|2|NULL|NULL", Rows(reopened, Latest));
    }

    private static TagPredicate Where(string text)
    {
        Assert.True(TagPredicate.TryParse(text, out var predicate, out string? error), error);
        return predicate!;
    }
}
