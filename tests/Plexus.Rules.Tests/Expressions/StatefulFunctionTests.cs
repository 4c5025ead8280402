using Plexus.Core;
using Plexus.Geo;
using Plexus.Rules.Anomalies;
using Plexus.Rules.Expressions;
using Plexus.TestKit;

namespace Plexus.Rules.Tests.Expressions;

/// <summary>The functions that remember a device's earlier points, evaluated point by point over one device's memory.</summary>
public sealed class StatefulFunctionTests
{
    private const long Second = 1_000_000_000;

    private static readonly RuleSymbols Symbols = new();
    private static readonly GeoShape Depot = new GeoCircle(52.0, 4.0, 1000);
    private static readonly RuleCompileOptions Options = new() { Symbols = Symbols, Geofences = name => name == "depot" ? Depot : null };

    /// <summary>Evaluates <paramref name="expression"/> over the points in order, one memory, as the engine does for one device.</summary>
    private static List<string> Run(string expression, params (long Seconds, (string Key, object Value)[] Fields)[] points)
    {
        var compiled = RuleCompiler.Compile(expression, Options);
        var builder = new PointBuilder();
        foreach (var (seconds, fields) in points)
        {
            builder.Point("telemetry", seconds * Second, [("device", "d1")], fields);
        }

        var row = new RuleRow(Symbols) { Memory = new RuleMemory(compiled.EndSlot) };
        var results = new List<string>();
        for (int i = 0; i < points.Length; i++)
        {
            row.Bind(builder.Batch, i, null);
            results.Add(row.Describe(compiled.Evaluate(row)));
        }

        return results;
    }

    private static (long, (string, object)[]) At(long seconds, double lat, double lon) => (seconds, [("lat", lat), ("lon", lon)]);

    private static (long, (string, object)[]) Door(long seconds, bool open) => (seconds, [("door", open)]);

    [Fact]
    public void Enters_and_exits_geofence_are_true_only_at_the_crossing_point()
    {
        var track = new[] { At(0, 52.0, 4.0), At(10, 52.0, 4.001), At(20, 53.0, 4.0), At(30, 53.0, 4.0), At(40, 52.0, 4.0), At(50, 52.0, 4.0) };
        Assert.Equal(["false", "false", "false", "false", "true", "false"], Run("enters_geofence(lat, lon, 'depot')", track));
        Assert.Equal(["false", "false", "true", "false", "false", "false"], Run("exits_geofence(lat, lon, 'depot')", track));
    }

    [Fact]
    public void Geofence_dwell_is_event_time_since_the_first_point_of_the_stay_and_zero_outside()
    {
        var track = new[] { At(0, 52.0, 4.0), At(600, 52.0, 4.0), At(700, 53.0, 4.0), At(800, 52.0, 4.0), At(4000, 52.0, 4.0) };
        Assert.Equal(["0", "600", "0", "0", "3200"], Run("geofence_dwell(lat, lon, 'depot')", track));
    }

    [Fact]
    public void Geofence_functions_are_null_without_a_position_and_remember_nothing_then()
    {
        var track = new[] { At(0, 53.0, 4.0), (10L, new (string, object)[] { ("speed", 1.0) }), At(20, 52.0, 4.0) };
        Assert.Equal(["false", "NULL", "true"], Run("enters_geofence(lat, lon, 'depot')", track));
    }

    [Fact]
    public void Count_within_slides_over_event_time_and_counts_only_where_the_condition_holds()
    {
        // Openings at 0, 10, 20, 65 s; a closed reading at 30 s is not counted. At 65 s the window (5 s, 65 s] holds 10, 20, 65.
        var doors = new[] { Door(0, true), Door(10, true), Door(20, true), Door(30, false), Door(65, true), Door(200, false) };
        Assert.Equal(["1", "2", "3", "3", "3", "0"], Run("count_within('1m', door)", doors));
        Assert.Equal(["1", "2", "3", "4", "4", "1"], Run("count_within('1m')", doors));
    }

    [Fact]
    public void Stateful_call_right_of_AND_sees_every_point_even_when_the_left_side_decides()
    {
        // The first three openings happen while "false": without evaluating the right side always, the count would be 1.
        var doors = new[] { Door(0, true), Door(1, true), Door(2, true), Door(3, true) };
        Assert.Equal(["false", "false", "false", "true"], Run("time >= 3 AND count_within('1m', door) > 3", doors));
        Assert.Equal(["true", "true", "true", "true"], Run("time < 3 OR count_within('1m', door) > 3", doors));
    }

    [Theory]
    [InlineData("mad")]
    [InlineData("zscore")]
    [InlineData("ewma")]
    [InlineData("seasonal")]
    public void Anomaly_is_null_until_the_window_is_full_then_scores_a_spike_far_above_noise(string method)
    {
        var random = new Random(7);
        var points = new List<(long, (string, object)[])>();
        for (int i = 0; i < 40; i++)
        {
            points.Add((i, [("vibration", 10 + random.NextDouble())]));
        }

        points.Add((40, [("vibration", 30.0)]));
        var scores = Run($"anomaly(vibration, '{method}', 20)", [.. points]);
        Assert.All(scores.Take(20), s => Assert.Equal("NULL", s));
        Assert.All(scores.Skip(20).Take(20), s => Assert.True(double.Parse(s, System.Globalization.CultureInfo.InvariantCulture) < 4, s));
        Assert.True(double.Parse(scores[40], System.Globalization.CultureInfo.InvariantCulture) > 20, scores[40]);
    }

    [Fact]
    public void Mad_window_scores_the_modified_z_score_of_its_previous_values()
    {
        // Window 1..8 (median 4.5, deviations 0.5 0.5 1.5 1.5 2.5 2.5 3.5 3.5, MAD 2): 0.6745 * |14.5 - 4.5| / 2.
        var window = new AnomalyWindow(AnomalyMethod.Mad, 8);
        for (int i = 1; i <= 8; i++)
        {
            Assert.True(double.IsNaN(window.Score(i)));
        }

        Assert.Equal(0.6745 * 10 / 2, window.Score(14.5), 12);

        // 14.5 replaced 1: window 2..8, 14.5 (median 5.5, deviations 0.5 0.5 1.5 1.5 2.5 2.5 3.5 9, MAD 2).
        Assert.Equal(0.6745 * 5 / 2, window.Score(0.5), 12);
    }

    [Fact]
    public void Seasonal_baseline_compares_a_value_with_the_same_hour_of_earlier_days()
    {
        // Hour 3 is always 10 warmer than hour 2, until the last day's hour 3 reads like an hour 2: ordinary against
        // a window of both hours, far from what hour 3 reads on other days.
        const long Hour = 3_600_000_000_000;
        var seasonal = new SeasonalAnomalyWindow(8);
        var flat = new AnomalyWindow(AnomalyMethod.Mad, 8);
        double seasonalScore = double.NaN, flatScore = double.NaN;
        for (int day = 0; day < 20; day++)
        {
            for (int hour = 2; hour <= 3; hour++)
            {
                double value = (hour == 3 && day < 19 ? 10 : 0) + ((day * 7 % 5) * 0.1);
                seasonalScore = seasonal.Score(value, (day * 24 * Hour) + (hour * Hour));
                flatScore = flat.Score(value);
            }
        }

        Assert.True(seasonalScore > 10, $"seasonal {seasonalScore}");
        Assert.True(flatScore < 2, $"flat {flatScore}");
    }

    [Fact]
    public void Flat_window_gives_no_score_rather_than_an_infinite_one()
    {
        var window = new AnomalyWindow(AnomalyMethod.ZScore, 8);
        for (int i = 0; i < 8; i++)
        {
            window.Score(5);
        }

        Assert.True(double.IsNaN(window.Score(6)));
        Assert.True(double.IsNaN(window.Score(double.PositiveInfinity)));
    }

    [Theory]
    [InlineData("anomaly(vibration, 'fft') > 3", "the method of anomaly is one of 'zscore', 'ewma', 'mad'")]
    [InlineData("anomaly(vibration, method) > 3", "the method of anomaly is one of")]
    [InlineData("anomaly(vibration, 'mad', 4) > 3", "the window of anomaly is a whole number of points from 8 to 1000")]
    [InlineData("anomaly(vibration, 'mad', 20.5) > 3", "whole number of points")]
    [InlineData("anomaly(vibration) > 3", "anomaly takes 2 to 3 arguments, not 1")]
    [InlineData("anomaly(mode, 'mad') > 3", "each argument of anomaly must be a number")]
    [InlineData("count_within(60, door) > 3", "the window of count_within is a duration in quotes")]
    [InlineData("count_within('1 minute', door) > 3", "the window of count_within is a duration in quotes")]
    [InlineData("count_within('1m', vibration) > 3", "the condition of count_within must be true/false")]
    [InlineData("enters_geofence(lat, lon, 'nowhere')", "no geofence 'nowhere'")]
    [InlineData("exits_geofence(lat, lon, depot)", "the geofence of exits_geofence must be its name in quotes")]
    [InlineData("geofence_dwell(lat, lon) > 60", "geofence_dwell takes 3 arguments, not 2")]
    [InlineData("anomaly(vibration, 'seasonal', 1000) > 4", "the windows of this expression hold up to 384,000 bytes per device; at most 65,536")]
    [InlineData("count_within('1m') > 1 AND count_within('1h') > 2 AND count_within('1d') > 3", "hold up to 98,304 bytes per device")]
    public void Invalid_stateful_call_is_refused_naming_the_problem(string expression, string expected)
    {
        var error = Assert.Throws<RuleSyntaxException>(() => RuleCompiler.Compile(expression, Options with
        {
            KnownColumns = new Dictionary<string, RuleType>(StringComparer.OrdinalIgnoreCase)
            {
                ["vibration"] = RuleType.Number,
                ["door"] = RuleType.Boolean,
                ["mode"] = RuleType.Text,
                ["lat"] = RuleType.Number,
                ["lon"] = RuleType.Number,
            },
        }));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluating_stateful_functions_allocates_nothing_per_point_once_the_windows_exist()
    {
        var rules = new[]
        {
            "anomaly(vibration, 'mad') > 3.5",
            "anomaly(vibration, 'zscore', 30) > 3 OR anomaly(vibration, 'ewma') > 3",
            "count_within('1m', door) > 10",
            "enters_geofence(lat, lon, 'depot') OR exits_geofence(lat, lon, 'depot') OR geofence_dwell(lat, lon, 'depot') > 600",
        }.Select(r => RuleCompiler.CompileCondition(r, Options)).ToArray();
        var builder = new PointBuilder();
        for (int i = 0; i < 2000; i++)
        {
            bool inside = i % 7 < 3;
            builder.Point("telemetry", i * Second, [("device", "d1")], ("vibration", 1.0 + ((i * 37) % 11)), ("door", i % 3 == 0), ("lat", inside ? 52.0 : 53.0), ("lon", 4.0));
        }

        var memories = rules.Select(r => new RuleMemory(r.EndSlot)).ToArray();
        var row = new RuleRow(Symbols);
        int trues = 0;
        void Evaluate(int from, int to)
        {
            for (int i = from; i < to; i++)
            {
                row.Bind(builder.Batch, i, null);
                for (int r = 0; r < rules.Length; r++)
                {
                    row.Memory = memories[r];
                    trues += rules[r].IsTrue(row) ? 1 : 0;
                }
            }
        }

        // Warm up: the windows are made, the count's ring grows to what a minute holds.
        Evaluate(0, 200);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Evaluate(200, 2000);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.True(trues > 0);
    }
}
