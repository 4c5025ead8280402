using Plexus.Simulator.Tests.TestSupport;

namespace Plexus.Simulator.Tests;

public sealed class FleetSimulatorTests
{
    [Fact]
    public void Without_chaos_every_truck_reports_both_measurements_every_tick_in_TSBS_order()
    {
        var options = Fleet.Options(trucks: 7, TimeSpan.FromMinutes(10), FleetChaosOptions.None);
        var rows = Fleet.Rows(options);

        Assert.Equal(60, options.Epochs);
        Assert.Equal(7 * 60 * 2, rows.Count);
        Assert.Equal(7 * 60, rows.Count(row => row.Measurement == FleetMeasurement.Readings));
        Assert.Equal(7 * 60, rows.Count(row => row.Measurement == FleetMeasurement.Diagnostics));
        for (int i = 0; i < rows.Count; i++)
        {
            // Measurement-major per tick: all readings of tick k, then all diagnostics of tick k.
            Assert.Equal(i, Fleet.BaseSequence(rows[i], options));
            Assert.Equal(-1, rows[i].NullField);
            Assert.Equal(-1, rows[i].NullTag);
        }

        Assert.Equal(Fleet.UnixNanoseconds(options.Start), rows[0].Timestamp);
        Assert.Equal(Fleet.UnixNanoseconds(options.End) - 10_000_000_000, rows[^1].Timestamp);
    }

    [Fact]
    public void The_run_has_floor_of_duration_over_interval_ticks_and_never_reaches_the_end()
    {
        var options = Fleet.Options(trucks: 3, TimeSpan.FromSeconds(95)) with { Interval = TimeSpan.FromSeconds(10) };
        Assert.Equal(9, options.Epochs);
        var rows = Fleet.Rows(options);
        long end = Fleet.UnixNanoseconds(options.End);
        Assert.All(rows, row => Assert.InRange(row.Timestamp, Fleet.UnixNanoseconds(options.Start), end - 1));
    }

    [Fact]
    public void Truck_tags_come_from_the_TSBS_value_sets_and_the_numeric_tags_from_the_model()
    {
        var simulator = new FleetSimulator(Fleet.Options(trucks: 1200, TimeSpan.FromSeconds(10)));
        var expected = new Dictionary<string, (float Load, float Fuel, float Consumption)>
        {
            ["F-150"] = (2000, 200, 15),
            ["G-2000"] = (5000, 300, 19),
            ["H-2"] = (1500, 150, 12),
        };

        for (int i = 0; i < simulator.Trucks.Count; i++)
        {
            var truck = simulator.Trucks[i];
            Assert.Equal(i, truck.Index);
            Assert.Equal($"truck_{i}", truck.Name);
            Assert.Contains(truck.Fleet, new[] { "East", "West", "North", "South" });
            Assert.Contains(truck.Driver, new[] { "Derek", "Rodney", "Albert", "Andy", "Seth", "Trish" });
            Assert.Contains(truck.DeviceVersion, new[] { "v1.0", "v1.5", "v2.0", "v2.3" });
            var (load, fuel, consumption) = expected[truck.Model.Name];
            Assert.Equal(load, truck.LoadCapacity);
            Assert.Equal(fuel, truck.FuelCapacity);
            Assert.Equal(consumption, truck.NominalFuelConsumption);
        }

        // Uniform choices: 1200 trucks, so 400 per model, 300 per fleet, 200 per driver, 300 per version (± ~5 σ).
        Assert.All(simulator.Trucks.GroupBy(truck => truck.Model.Name), group => Assert.InRange(group.Count(), 320, 480));
        Assert.All(simulator.Trucks.GroupBy(truck => truck.Fleet), group => Assert.InRange(group.Count(), 230, 370));
        Assert.All(simulator.Trucks.GroupBy(truck => truck.Driver), group => Assert.InRange(group.Count(), 140, 260));
        Assert.All(simulator.Trucks.GroupBy(truck => truck.DeviceVersion), group => Assert.InRange(group.Count(), 230, 370));
        Assert.Equal(3, simulator.Trucks.Select(truck => truck.Model.Name).Distinct().Count());
        Assert.Equal(6, simulator.Trucks.Select(truck => truck.Driver).Distinct().Count());
    }

    [Fact]
    public void Every_value_stays_within_its_TSBS_bounds_and_precision()
    {
        var options = Fleet.Options(trucks: 40, TimeSpan.FromHours(12), FleetChaosOptions.None); // 4320 ticks
        var rows = Fleet.Rows(options);
        foreach (var row in rows)
        {
            var fields = FleetSchema.Fields(row.Measurement);
            for (int field = 0; field < fields.Count; field++)
            {
                double value = row.GetValue(field);
                Assert.InRange(value, fields[field].Minimum, fields[field].Maximum);
                double scaled = value * FleetRow.Pow10(fields[field].Decimals);
                Assert.Equal(Math.Round(scaled), scaled, 6); // no more decimals than TSBS keeps
            }
        }

        var readings = rows.Where(row => row.Measurement == FleetMeasurement.Readings).ToList();
        var diagnostics = rows.Where(row => row.Measurement == FleetMeasurement.Diagnostics).ToList();

        // Over 12 h the walks move: velocity reaches both clamps, heading wanders, status takes every value 0..5.
        Assert.Contains(readings, row => row.GetValue(3) == 0);
        Assert.Contains(readings, row => row.GetValue(3) == 100);
        Assert.Equal([0L, 1, 2, 3, 4, 5], diagnostics.Select(row => row.GetScaledValue(2)).Distinct().Order());
        Assert.Contains(diagnostics, row => row.GetValue(0) < 0.5); // fuel drains ~0.0005 per tick
        Assert.All(diagnostics, row => Assert.Contains(row.GetValue(0), new[] { 0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0 }));
    }

    [Fact]
    public void First_tick_shows_the_TSBS_initial_states()
    {
        var rows = Fleet.Rows(Fleet.Options(trucks: 50, TimeSpan.FromSeconds(10), FleetChaosOptions.None));
        foreach (var row in rows)
        {
            if (row.Measurement == FleetMeasurement.Readings)
            {
                Assert.InRange(row.GetValue(0), 0, 90);    // U·90: TSBS starts every truck in the northern hemisphere
                Assert.InRange(row.GetValue(1), 0, 180);   // U·180
                Assert.InRange(row.GetValue(2), 0, 500);   // U·500
                Assert.Equal(0, row.GetValue(3));          // velocity
                Assert.InRange(row.GetValue(4), 0, 360);   // heading U·360
                Assert.Equal(0, row.GetValue(5));          // grade
                Assert.Equal(25, row.GetValue(6));         // fuel_consumption = max / 2
            }
            else
            {
                Assert.Equal(1, row.GetValue(0));          // fuel_state full
                Assert.Equal(0, row.GetValue(1));          // current_load: the lazy UD starts at 0
                Assert.Equal(0, row.GetValue(2));          // status
            }
        }
    }

    [Fact]
    public void Random_walk_steps_are_as_wide_as_the_TSBS_step_distributions()
    {
        var options = Fleet.Options(trucks: 20, TimeSpan.FromHours(2), FleetChaosOptions.None);
        var byTruck = Fleet.Rows(options).Where(row => row.Measurement == FleetMeasurement.Readings).GroupBy(row => row.TruckIndex);
        double largestLatitudeStep = 0, largestElevationStep = 0, largestHeadingStep = 0;
        foreach (var truck in byTruck)
        {
            var series = truck.ToList();
            for (int i = 1; i < series.Count; i++)
            {
                largestLatitudeStep = Math.Max(largestLatitudeStep, Math.Abs(series[i].GetValue(0) - series[i - 1].GetValue(0)));
                largestElevationStep = Math.Max(largestElevationStep, Math.Abs(series[i].GetValue(2) - series[i - 1].GetValue(2)));
                largestHeadingStep = Math.Max(largestHeadingStep, Math.Abs(series[i].GetValue(4) - series[i - 1].GetValue(4)));
            }
        }

        // UD(-0.005, 0.005), UD(-10, 10), UD(-5, 5); truncation to the printed precision can add one unit.
        Assert.InRange(largestLatitudeStep, 0.004, 0.00501 + 0.00001);
        Assert.InRange(largestElevationStep, 9, 11);
        Assert.InRange(largestHeadingStep, 4, 6);
    }

    [Fact]
    public void Current_load_changes_on_about_five_percent_of_ticks()
    {
        var options = Fleet.Options(trucks: 50, TimeSpan.FromHours(3), FleetChaosOptions.None); // 1080 ticks
        var diagnostics = Fleet.Rows(options).Where(row => row.Measurement == FleetMeasurement.Diagnostics).GroupBy(row => row.TruckIndex);
        int changes = 0, steps = 0;
        foreach (var truck in diagnostics)
        {
            var series = truck.ToList();
            for (int i = 1; i < series.Count; i++)
            {
                steps++;
                changes += series[i].GetScaledValue(1) != series[i - 1].GetScaledValue(1) ? 1 : 0;
            }
        }

        Assert.InRange(changes / (double)steps, 0.045, 0.055);
    }

    [Fact]
    public void A_trucks_values_do_not_depend_on_the_fleet_size_or_the_chaos()
    {
        static List<FleetRow> TruckThree(int trucks, FleetChaosOptions chaos) =>
            Fleet.Rows(Fleet.Options(trucks, TimeSpan.FromMinutes(30), chaos))
                .Where(row => row.TruckIndex == 3)
                .OrderBy(row => row.Timestamp).ThenBy(row => row.Measurement)
                .ToList();

        var small = TruckThree(5, FleetChaosOptions.None);
        var large = TruckThree(50, FleetChaosOptions.None);
        var chaotic = TruckThree(50, FleetChaosOptions.Tsbs);
        Assert.Equal(Values(small), Values(large));
        Assert.Subset(Values(large).ToHashSet(), Values(chaotic).ToHashSet()); // chaos drops and reorders, never changes

        static IEnumerable<string> Values(List<FleetRow> rows) =>
            rows.Select(row => $"{row.Measurement} {row.Timestamp} {string.Join(',', Enumerable.Range(0, row.FieldCount).Select(row.GetScaledValue))}");
    }

    [Fact]
    public void Chaos_drops_about_one_row_in_ten_as_TSBS_does()
    {
        // TSBS: 1 % of batches dropped (10 entries each); per slot 10 % dropped and 27 % parked, so a generated batch
        // consumes 11 base entries and drops 1; with 5 % of batches parked and as many re-inserted, the expected loss
        // is (0.1 + G) / (0.1 + 11 G) with G = 0.99 / 1.05 per batch decision: 9.96 % (the TSBS reference set of
        // 1,000 trucks × 5 h lost 9.94 %).
        var options = Fleet.Options(trucks: 40, TimeSpan.FromHours(1)); // 28,800 entries
        var simulator = new FleetSimulator(options);
        var rows = Fleet.Rows(simulator);

        double lost = 1 - (rows.Count / (double)options.TotalEntries);
        Assert.InRange(lost, 0.085, 0.115);
        Assert.Equal(options.TotalEntries - rows.Count, simulator.Counters.EntriesDropped);
        Assert.Equal(rows.Count, simulator.Counters.RowsEmitted);
        Assert.Equal(rows.Count, rows.Select(row => Fleet.BaseSequence(row, options)).Distinct().Count()); // nothing twice
    }

    [Fact]
    public void Chaos_sends_about_a_fifth_of_the_rows_late()
    {
        // Late = emitted after a row that comes later in TSBS's base order. From the TSBS parameters: 2.7 entries parked
        // per batch of 10 (27 % of the slots), re-inserted into slots where 63 % of them are emitted (≈ 17 % of rows),
        // plus the 5 % of batches parked whole; measured 18.7-19.4 % over five seeds.
        var options = Fleet.Options(trucks: 40, TimeSpan.FromHours(1));
        var rows = Fleet.Rows(options);
        long highest = -1;
        int late = 0;
        foreach (var row in rows)
        {
            long sequence = Fleet.BaseSequence(row, options);
            if (sequence < highest)
            {
                late++;
            }

            highest = Math.Max(highest, sequence);
        }

        Assert.InRange(late / (double)rows.Count, 0.16, 0.23);
    }

    [Fact]
    public void Chaos_nulls_one_field_in_about_nine_percent_of_rows_and_one_tag_in_about_one_percent()
    {
        // zeroFieldChance 10 % is drawn only for slots that are not dropped (90 %): 9 %; zeroTagChance 1 % likewise: 0.9 %.
        var options = Fleet.Options(trucks: 40, TimeSpan.FromHours(1));
        var simulator = new FleetSimulator(options);
        var rows = Fleet.Rows(simulator);

        double nullFields = rows.Count(row => row.NullField >= 0) / (double)rows.Count;
        double nullTags = rows.Count(row => row.NullTag >= 0) / (double)rows.Count;
        Assert.InRange(nullFields, 0.075, 0.105);
        Assert.InRange(nullTags, 0.005, 0.014);
        Assert.Equal(simulator.Counters.NullFields, rows.Count(row => row.NullField >= 0));
        Assert.All(rows, row => Assert.InRange(row.NullField, -1, row.FieldCount - 1));
        Assert.All(rows, row => Assert.InRange(row.NullTag, -1, 7));

        // The field index is drawn from 7 then taken mod 3 for diagnostics: fuel_state gets 3/7 of them, not 1/3.
        var diagnosticsNulls = rows.Where(row => row.Measurement == FleetMeasurement.Diagnostics && row.NullField >= 0).ToList();
        double fuelShare = diagnosticsNulls.Count(row => row.NullField == 0) / (double)diagnosticsNulls.Count;
        Assert.InRange(fuelShare, 0.36, 0.50);
    }

    [Theory]
    [InlineData("missing")]
    [InlineData("out-of-order")]
    [InlineData("nulls")]
    public void Each_kind_of_chaos_can_be_turned_off_alone(string kind)
    {
        var chaos = kind switch
        {
            "missing" => FleetChaosOptions.Tsbs.WithoutMissing(),
            "out-of-order" => FleetChaosOptions.Tsbs.WithoutOutOfOrder(),
            _ => FleetChaosOptions.Tsbs.WithoutNulls(),
        };
        var options = Fleet.Options(trucks: 20, TimeSpan.FromMinutes(30), chaos);
        var rows = Fleet.Rows(options);
        var sequences = rows.Select(row => Fleet.BaseSequence(row, options)).ToList();
        bool inOrder = sequences.Zip(sequences.Skip(1)).All(pair => pair.First < pair.Second);
        bool complete = rows.Count == options.TotalEntries;
        bool hasNulls = rows.Any(row => row.NullField >= 0 || row.NullTag >= 0);

        Assert.Equal(kind == "missing", complete);
        Assert.Equal(kind == "out-of-order", inOrder);
        Assert.Equal(kind != "nulls", hasNulls);
    }

    [Fact]
    public void Read_fills_a_span_with_the_same_rows_as_TryRead()
    {
        var options = Fleet.Options(trucks: 9, TimeSpan.FromMinutes(20));
        var expected = Fleet.Rows(options);
        var simulator = new FleetSimulator(options);
        var buffer = new FleetRow[37];
        var actual = new List<FleetRow>();
        int read;
        while ((read = simulator.Read(buffer)) > 0)
        {
            actual.AddRange(buffer.AsSpan(0, read).ToArray());
        }

        Assert.Equal(expected.Count, actual.Count);
        Assert.True(simulator.IsFinished);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(Fleet.BaseSequence(expected[i], options), Fleet.BaseSequence(actual[i], options));
        }
    }

    [Fact]
    public void Invalid_options_are_refused_with_the_option_named()
    {
        Assert.Equal("Trucks", Assert.ThrowsAny<ArgumentException>(() => new FleetSimulator(new FleetSimulationOptions { Trucks = 0 })).ParamName);
        Assert.Equal("Interval", Assert.ThrowsAny<ArgumentException>(() => new FleetSimulator(new FleetSimulationOptions { Interval = TimeSpan.Zero })).ParamName);
        Assert.Equal("End", Assert.ThrowsAny<ArgumentException>(() => new FleetSimulator(new FleetSimulationOptions { End = FleetSimulationOptions.DefaultStart.AddSeconds(-1) })).ParamName);
        Assert.ThrowsAny<ArgumentException>(() => new FleetSimulator(new FleetSimulationOptions { Chaos = FleetChaosOptions.Tsbs with { EntryMissingChance = 1.5 } }));
    }

    [Fact]
    public void An_empty_run_yields_no_rows()
    {
        var options = Fleet.Options(trucks: 5, TimeSpan.FromSeconds(5)); // shorter than one interval
        Assert.Equal(0, options.Epochs);
        Assert.Empty(Fleet.Rows(options));
    }
}
