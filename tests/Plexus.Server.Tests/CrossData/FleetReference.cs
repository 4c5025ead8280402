namespace Plexus.Server.Tests.CrossData;

/// <summary>A timestamp cell (Unix nanoseconds), so it is not confused with an integer.</summary>
internal readonly record struct Ts(long Ns);

/// <summary>
/// The cookbook's questions answered in C# over the model of the stored rows, without the SQL engine: each entry
/// follows the TimescaleDB reference's semantics (performance-anchors §1.4) as docs/cross-data.md states them.
/// </summary>
internal static class FleetReference
{
    private const long Second = 1_000_000_000;
    private const long TenMinutes = 600 * Second;
    private const long Day = 86_400 * Second;

    // time_bucket's origin for intervals under a month: 2000-01-03, a Monday.
    private static readonly long Origin = SimulatedFleet.Ns(new DateTimeOffset(2000, 1, 3, 0, 0, 0, TimeSpan.Zero));
    private static readonly DateTimeOffset Start = SimulatedFleet.Start;

    public static IReadOnlyDictionary<string, Func<SimulatedFleet, List<object?[]>>> Answers { get; } =
        new Dictionary<string, Func<SimulatedFleet, List<object?[]>>>
        {
            ["last-loc"] = f => Latest(f.Readings, "South").Select(g => Row(g.Key.Name, g.Key.Driver, g.Last.Longitude, g.Last.Latitude)).ToList(),
            ["low-fuel"] = f => Latest(f.Diagnostics, "South").Where(g => g.Last.FuelState < 0.1)
                .Select(g => Row(g.Key.Name, g.Key.Driver, g.Last.FuelState)).ToList(),
            ["high-load"] = f => Latest(f.Diagnostics, "South").Where(g => g.Last.CurrentLoad / g.Key.LoadCapacity > 0.9)
                .Select(g => Row(g.Key.Name, g.Key.Driver, g.Last.CurrentLoad, g.Key.LoadCapacity)).ToList(),
            ["stationary-trucks"] = f => f.Readings
                .Where(r => In(r, Start.AddHours(12), Start.AddHours(12).AddMinutes(10)) && r.Tags.Name is not null && r.Tags.Fleet == "South")
                .GroupBy(r => (r.Tags.Name, r.Tags.Driver))
                .Where(g => Avg(g.Select(r => r.Velocity)) < 1)
                .Select(g => Row(g.Key.Name, g.Key.Driver)).ToList(),
            ["long-driving-sessions"] = f => LongSessions(f, Start.AddHours(8), Start.AddHours(12), 22),
            ["long-daily-sessions"] = f => LongSessions(f, Start, Start.AddHours(24), 60),
            ["avg-vs-projected-fuel-consumption"] = f => f.Readings
                .Where(r => r.Velocity > 1 && r.Tags.Fleet is not null && r.Tags.NominalFuelConsumption is not null && r.Tags.Name is not null)
                .GroupBy(r => r.Tags.Fleet)
                .Select(g => Row(g.Key, Avg(g.Select(r => r.FuelConsumption)), Avg(g.Select(r => r.Tags.NominalFuelConsumption)))).ToList(),
            ["avg-daily-driving-duration"] = f => DailyDrivingDuration(f, count => count / 6),
            ["avg-daily-driving-duration-fixed"] = f => DailyDrivingDuration(f, count => count / 6.0),
            ["avg-daily-driving-session"] = f => DrivingSessions(f, distinctFrom: false),
            ["avg-daily-driving-session-fixed"] = f => DrivingSessions(f, distinctFrom: true),
            ["avg-load"] = f => f.Diagnostics
                .GroupBy(r => r.Tags)
                .Select(g => (g.Key, AvgLoad: Avg(g.Select(r => r.CurrentLoad))))
                .Where(t => t.Key.Name is not null)
                .GroupBy(t => (t.Key.Fleet, t.Key.Model, t.Key.LoadCapacity))
                .Select(g => Row(g.Key.Fleet, g.Key.Model, g.Key.LoadCapacity, Avg(g.Select(t => t.AvgLoad / t.Key.LoadCapacity)))).ToList(),
            ["daily-activity"] = f => DailyActivity(f, bucket => bucket.Rows),
            ["daily-activity-fixed"] = f => DailyActivity(f, _ => 1),
            ["breakdown-frequency"] = f => Breakdowns(f, g => g.Count(r => r.Status is not null) / g.Count() >= 0.5),
            ["breakdown-frequency-fixed"] = f => Breakdowns(f, g => (double)g.Count(r => r.Status == 0) / g.Count() >= 0.5),
            ["asof-readings-diagnostics"] = AsOfReadingsDiagnostics,
            ["asof-last-known"] = AsOfLastKnown,
            ["asof-positions"] = AsOfPositions,
            ["gapfill-none"] = f => GapFill(f, locf: false, linear: false),
            ["gapfill-locf"] = f => GapFill(f, locf: true, linear: false),
            ["gapfill-linear"] = f => GapFill(f, locf: false, linear: true),
            ["gapfill-per-device"] = GapFillPerDevice,
            ["gapfill-macros"] = f => GapFill(f, locf: true, linear: false)
                .Zip(GapFill(f, locf: false, linear: true), (l, i) => Row(l[0], l[1], l[2], i[2])).ToList(),
        };

    private static object?[] Row(params object?[] cells) => cells;

    private static long Bucket(long time, long width) => time - ((time - Origin) % width);

    private static bool In(StoredRow r, DateTimeOffset from, DateTimeOffset to) =>
        r.Time >= SimulatedFleet.Ns(from) && r.Time < SimulatedFleet.Ns(to);

    /// <summary>SQL's avg: NULLs ignored, NULL when nothing is left.</summary>
    private static double? Avg(IEnumerable<double?> values)
    {
        double sum = 0;
        long count = 0;
        foreach (var v in values)
        {
            if (v is { } x)
            {
                sum += x;
                count++;
            }
        }

        return count == 0 ? null : sum / count;
    }

    private static IEnumerable<(TagSet Key, StoredRow Last)> Latest(List<StoredRow> rows, string fleet) =>
        rows.Where(r => r.Tags.Name is not null && r.Tags.Fleet == fleet)
            .GroupBy(r => r.Tags)
            .Select(g => (g.Key, g.MaxBy(r => r.Time)!));

    private static List<object?[]> LongSessions(SimulatedFleet f, DateTimeOffset from, DateTimeOffset to, int minimum) =>
        f.Readings.Where(r => In(r, from, to))
            .GroupBy(r => (r.Tags, Bucket(r.Time, TenMinutes)))
            .Where(g => Avg(g.Select(r => r.Velocity)) > 1)
            .Select(g => g.Key.Tags)
            .Where(t => t.Name is not null && t.Fleet == "South")
            .GroupBy(t => (t.Name, t.Driver))
            .Where(g => g.Count() > minimum)
            .Select(g => Row(g.Key.Name, g.Key.Driver)).ToList();

    private static List<object?[]> DailyDrivingDuration(SimulatedFleet f, Func<int, double> hours) =>
        f.Readings
            .GroupBy(r => (r.Tags, TenMinutes: Bucket(r.Time, TenMinutes)))
            .Where(g => Avg(g.Select(r => r.Velocity)) > 1)
            .GroupBy(g => (g.Key.Tags, Day: Bucket(g.Key.TenMinutes, Day)))
            .Select(d => (d.Key.Tags, Hours: hours(d.Count())))
            .GroupBy(d => (d.Tags.Fleet, d.Tags.Name, d.Tags.Driver))
            .Select(g => Row(g.Key.Fleet, g.Key.Name, g.Key.Driver, g.Average(d => d.Hours))).ToList();

    private static List<object?[]> DrivingSessions(SimulatedFleet f, bool distinctFrom)
    {
        var changes = new List<(string? Name, long Start, long? Stop)>();
        foreach (var truck in f.Readings.GroupBy(r => r.Tags))
        {
            var buckets = truck.GroupBy(r => Bucket(r.Time, TenMinutes)).OrderBy(g => g.Key)
                .Select(g => (TenMinutes: g.Key, Driving: Avg(g.Select(r => r.Velocity)) is { } v ? v > 5 : (bool?)null)).ToList();
            var changed = new List<(long TenMinutes, bool? Driving)>();
            for (int i = 0; i < buckets.Count; i++)
            {
                bool? previous = i == 0 ? null : buckets[i - 1].Driving;
                bool? current = buckets[i].Driving;
                bool isChange = distinctFrom ? current != previous : current is not null && previous is not null && current != previous;
                if (isChange)
                {
                    changed.Add(buckets[i]);
                }
            }

            for (int i = 0; i < changed.Count; i++)
            {
                if (truck.Key.Name is not null && changed[i].Driving == true)
                {
                    changes.Add((truck.Key.Name, changed[i].TenMinutes, i + 1 < changed.Count ? changed[i + 1].TenMinutes : null));
                }
            }
        }

        return changes.GroupBy(c => (c.Name, Day: Bucket(c.Start, Day)))
            .Select(g =>
            {
                var lengths = g.Where(c => c.Stop is not null).Select(c => c.Stop!.Value - c.Start).ToList();
                object? duration = lengths.Count == 0 ? null : TimeSpan.FromTicks((long)(lengths.Average(l => (double)l) / 100));
                return Row(g.Key.Name, new Ts(g.Key.Day), duration);
            }).ToList();
    }

    private static List<object?[]> DailyActivity(SimulatedFleet f, Func<(TagSet Tags, int Rows), int> weight) =>
        f.Diagnostics
            .GroupBy(r => (r.Tags, Day: Bucket(r.Time, Day), TenMinutes: Bucket(r.Time, TenMinutes)))
            .Where(g => Avg(g.Select(r => (double?)r.Status)) < 1)
            .Select(g => (g.Key.Tags, g.Key.Day, Rows: g.Count()))
            .Where(b => b.Tags.Name is not null)
            .GroupBy(b => (b.Tags.Fleet, b.Tags.Model, b.Day))
            .Select(g => Row(g.Key.Fleet, g.Key.Model, new Ts(g.Key.Day), g.Sum(b => weight((b.Tags, b.Rows))) / 144.0)).ToList();

    private static List<object?[]> Breakdowns(SimulatedFleet f, Func<IEnumerable<StoredRow>, bool> brokenDown)
    {
        var counts = new Dictionary<string, long>();
        var nullModel = 0L;
        foreach (var truck in f.Diagnostics.GroupBy(r => r.Tags))
        {
            var buckets = truck.GroupBy(r => Bucket(r.Time, TenMinutes)).OrderBy(g => g.Key).Select(brokenDown).ToList();
            for (int i = 0; i + 1 < buckets.Count; i++)
            {
                if (truck.Key.Name is not null && !buckets[i] && buckets[i + 1])
                {
                    if (truck.Key.Model is { } model)
                    {
                        counts[model] = counts.GetValueOrDefault(model) + 1;
                    }
                    else
                    {
                        nullModel++;
                    }
                }
            }
        }

        var rows = counts.Select(c => Row(c.Key, c.Value)).ToList();
        if (nullModel > 0)
        {
            rows.Add(Row(null, nullModel));
        }

        return rows;
    }

    private static List<object?[]> AsOfReadingsDiagnostics(SimulatedFleet f)
    {
        var diagnostics = f.Diagnostics.Where(d => d.Tags.Name == "truck_13").OrderBy(d => d.Time).ToList();
        return f.Readings
            .Where(r => r.Tags.Name == "truck_13" && In(r, Start.AddHours(12), Start.AddHours(12).AddMinutes(10)))
            .Select(r =>
            {
                var d = diagnostics.LastOrDefault(d => d.Time <= r.Time);
                return Row(new Ts(r.Time), r.Velocity, d is null ? null : new Ts(d.Time), d?.FuelState, d?.CurrentLoad);
            }).ToList();
    }

    private static List<object?[]> AsOfLastKnown(SimulatedFleet f)
    {
        var known = f.Diagnostics.Where(d => d.Tags.Name is not null && d.FuelState is not null)
            .GroupBy(d => d.Tags.Name!).ToDictionary(g => g.Key, g => g.OrderBy(d => d.Time).ToList());
        return f.Readings
            .Where(r => r.Tags.Fleet == "South" && r.Velocity > 90 && r.Tags.Name is not null)
            .Select(r => (r.Tags.Name, Match: known.GetValueOrDefault(r.Tags.Name!)?.LastOrDefault(d => d.Time <= r.Time)))
            .Where(m => m.Match is not null)
            .GroupBy(m => m.Name)
            .Select(g => Row(g.Key, (long)g.Count(), Avg(g.Select(m => m.Match!.FuelState)))).ToList();
    }

    private static List<object?[]> AsOfPositions(SimulatedFleet f)
    {
        var positions = f.Positions.Where(p => p.Device == "truck_13").OrderBy(p => p.Time).ToList();
        return f.Diagnostics
            .Where(d => d.Tags.Name == "truck_13" && d.Status >= 4)
            .Select(d =>
            {
                var p = positions.LastOrDefault(p => p.Time <= d.Time);
                return Row("truck_13", new Ts(d.Time), d.Status, p is null ? null : new Ts(p.Time), p?.Lat, p?.Lon);
            }).ToList();
    }

    private static List<object?[]> GapFillPerDevice(SimulatedFleet f)
    {
        long from = SimulatedFleet.Ns(Start.AddHours(12));
        long to = SimulatedFleet.Ns(Start.AddHours(13));
        var slots = Enumerable.Range(0, 60).Select(k => from + (k * 60 * Second)).ToList();
        var rows = new List<object?[]>();
        int gaps = 0;
        foreach (string device in new[] { "truck_1", "truck_4" })
        {
            var samples = f.Positions.Where(p => p.Device == device && p.Time >= from && p.Time < to)
                .GroupBy(p => Bucket(p.Time, 60 * Second))
                .ToDictionary(g => g.Key, g => Avg(g.Select(p => (double?)p.Lat)));
            var values = slots.Select(s => samples.GetValueOrDefault(s)).ToList();
            for (int i = 0; i < slots.Count; i++)
            {
                int previous = values.FindLastIndex(i, v => v is not null);
                int next = values.FindIndex(i, v => v is not null);
                double? filled = values[i];
                if (filled is null)
                {
                    gaps++;
                    if (previous >= 0 && next >= 0)
                    {
                        filled = values[previous] + ((values[next] - values[previous]) * (slots[i] - slots[previous]) / (slots[next] - slots[previous]));
                    }
                }

                rows.Add(Row(device, new Ts(slots[i]), values[i], filled));
            }
        }

        Assert.True(gaps > 0, "the positions have gaps to fill");
        return rows;
    }

    private static List<object?[]> GapFill(SimulatedFleet f, bool locf, bool linear)
    {
        long from = SimulatedFleet.Ns(Start.AddHours(12));
        var samples = f.Readings
            .Where(r => r.Tags.Name == "truck_1" && In(r, Start.AddHours(12), Start.AddHours(12).AddMinutes(10)))
            .GroupBy(r => Bucket(r.Time, 10 * Second))
            .ToDictionary(g => g.Key, g => Avg(g.Select(r => r.FuelConsumption)));
        var slots = Enumerable.Range(0, 60).Select(k => from + (k * 10 * Second)).ToList();
        var values = slots.Select(s => samples.GetValueOrDefault(s)).ToList();
        Assert.Contains(null, values);
        var rows = new List<object?[]>();
        for (int i = 0; i < slots.Count; i++)
        {
            if (!locf && !linear)
            {
                rows.Add(Row(new Ts(slots[i]), values[i]));
                continue;
            }

            int previous = values.FindLastIndex(i, v => v is not null);
            if (locf)
            {
                rows.Add(Row(new Ts(slots[i]), values[i], previous < 0 ? null : values[previous]));
                continue;
            }

            int next = values.FindIndex(i, v => v is not null);
            double? filled = values[i];
            if (filled is null && previous >= 0 && next >= 0)
            {
                filled = values[previous] + ((values[next] - values[previous]) * (slots[i] - slots[previous]) / (slots[next] - slots[previous]));
            }

            rows.Add(Row(new Ts(slots[i]), values[i], filled));
        }

        return rows;
    }
}
