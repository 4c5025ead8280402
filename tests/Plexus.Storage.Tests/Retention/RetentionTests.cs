using Microsoft.Extensions.Time.Testing;
using Plexus.Storage.Retention;
using Plexus.TestKit;

namespace Plexus.Storage.Tests.Retention;

public sealed class RetentionTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly TempDirectory _dir = new("plexus-retention");
    private readonly FakeTimeProvider _clock = new(Start);

    public void Dispose() => _dir.Dispose();

    private PlexusStore Open() => PlexusStore.Open(new StorageOptions { DataDirectory = _dir.Path, Threads = 2, Time = _clock });

    private static long DaysAgo(int days) => (Start.AddDays(-days) - DateTimeOffset.UnixEpoch).Ticks * 100;

    private static async Task SeedAsync(PlexusStore store)
    {
        var points = new PointBuilder();
        foreach (int days in (int[])[40, 20, 5, 1])
        {
            points.Point("readings", DaysAgo(days), [("device", "a")], ("v", (double)days));
            points.Point("events", DaysAgo(days), [("device", "a")], ("v", (double)days));
        }

        await store.Writer.WriteAsync("main", points.Batch);
        await store.Writer.WriteAsync("lab", new PointBuilder().Point("m", DaysAgo(40), null, ("v", 1.0)).Batch);
    }

    private static long[] DaysLeft(PlexusStore store, string measurement) =>
        [.. StoreRows.Read(store, $"SELECT CAST(v AS BIGINT) FROM {measurement} ORDER BY time").Select(r => (long)r[0]!)];

    [Fact]
    public async Task Each_check_deletes_rows_older_than_the_retention_and_a_measurement_policy_wins_over_its_namespace()
    {
        await using var store = Open();
        await SeedAsync(store);
        using var policies = RetentionPolicies.Open(store, _clock);
        policies.Set("main", null, TimeSpan.FromDays(30));
        policies.Set("main", "events", TimeSpan.FromDays(7));
        var logs = new CollectingLoggerProvider();
        await using var enforcer = new RetentionEnforcer(policies, store.Writer, TimeSpan.FromMinutes(10), _clock, logs.CreateLogger("test"));

        // Nothing runs before the first interval has passed.
        _clock.Advance(TimeSpan.FromMinutes(9));
        Assert.Equal([40L, 20, 5, 1], DaysLeft(store, "readings"));

        _clock.Advance(TimeSpan.FromMinutes(1));
        await Eventually.TrueAsync(() => enforcer.Runs >= 1, TimeSpan.FromSeconds(10), "the first check ran");

        Assert.Equal([20L, 5, 1], DaysLeft(store, "readings"));
        Assert.Equal([5L, 1], DaysLeft(store, "events"));
        Assert.Equal(1L, StoreRows.Read(store, "SELECT count(*) FROM lab.m")[0][0]);
        Assert.Contains(logs.Entries, e => e.Message.Contains("deleted 2 rows of main.events", StringComparison.Ordinal) && e.Message.Contains("Retention 1w of main.events", StringComparison.Ordinal));
        Assert.Contains(logs.Entries, e => e.Message.Contains("deleted 1 rows of main.readings", StringComparison.Ordinal));

        // Time goes on: rows age out at the next check.
        _clock.Advance(TimeSpan.FromDays(11));
        await Eventually.TrueAsync(() => enforcer.Runs >= 2, TimeSpan.FromSeconds(10), "the next check ran");
        Assert.Equal([5L, 1], DaysLeft(store, "readings"));
        Assert.Empty(DaysLeft(store, "events"));
    }

    [Fact]
    public async Task Removed_policy_stops_deleting_and_a_policy_for_what_holds_no_data_is_harmless()
    {
        await using var store = Open();
        await SeedAsync(store);
        using var policies = RetentionPolicies.Open(store, _clock);
        policies.Set("main", "readings", TimeSpan.FromDays(10));
        policies.Set("nowhere", null, TimeSpan.FromDays(1));
        policies.Set("main", "not_yet", TimeSpan.FromDays(1));
        Assert.True(policies.Remove("main", "readings"));
        Assert.False(policies.Remove("main", "readings"));
        await using var enforcer = new RetentionEnforcer(policies, store.Writer, TimeSpan.FromHours(1), _clock, new CollectingLoggerProvider().CreateLogger("test"));

        Assert.Equal(0, await enforcer.RunOnceAsync());
        Assert.Equal([40L, 20, 5, 1], DaysLeft(store, "readings"));
        Assert.Equal(["main.not_yet", "nowhere"], policies.List().Select(p => p.Target));
    }

    [Fact]
    public async Task Policies_survive_a_restart_and_show_in_sql()
    {
        await using (var store = Open())
        {
            using var policies = RetentionPolicies.Open(store, _clock);
            policies.Set("main", "readings", TimeSpan.FromDays(30));
        }

        await using var reopened = Open();
        using var again = RetentionPolicies.Open(reopened, _clock);
        var policy = Assert.Single(again.List());
        Assert.Equal(("main", "readings", TimeSpan.FromDays(30)), (policy.Namespace, policy.Measurement, policy.Raw));
        Assert.Equal([["main", "readings", 2_592_000L]], StoreRows.Read(reopened, "SELECT namespace, measurement, raw_seconds FROM main.retention_policies"));
    }

    [Theory]
    [InlineData("30d", 30 * 24 * 60)]
    [InlineData("12h", 12 * 60)]
    [InlineData("90m", 90)]
    [InlineData("2W", 2 * 7 * 24 * 60)]
    public void Durations_read_whole_minutes_hours_days_and_weeks(string text, int minutes)
    {
        Assert.Equal(TimeSpan.FromMinutes(minutes), RetentionPolicies.ParseDuration(text));
        Assert.Equal(text.ToLowerInvariant(), RetentionPolicies.Format(RetentionPolicies.ParseDuration(text)));
    }

    [Theory]
    [InlineData("30", "is not a retention such as 30d")]
    [InlineData("1.5d", "is not a retention such as 30d")]
    [InlineData("-3d", "is not a retention such as 30d")]
    [InlineData("30s", "is not a retention such as 30d")]
    [InlineData("0m", "shorter than 1m")]
    [InlineData("99999999w", "at most 36500d")]
    public void Bad_durations_are_refused_naming_the_forms(string text, string message)
    {
        var error = Assert.Throws<RetentionPolicyException>(() => RetentionPolicies.ParseDuration(text));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.Equal("raw", error.Field);
    }

    [Theory]
    [InlineData("main", "main", null)]
    [InlineData("Fleet.readings", "fleet", "readings")]
    [InlineData("main.cpu.load", "main", "cpu.load")]
    public void Targets_name_a_namespace_and_maybe_a_measurement(string text, string ns, string? measurement) =>
        Assert.Equal((ns, measurement), RetentionPolicies.ParseTarget(text));

    [Theory]
    [InlineData(".readings")]
    [InlineData("main.")]
    [InlineData("_plexus.measurements")]
    [InlineData("a b.c")]
    public void Bad_targets_are_refused(string text) =>
        Assert.Equal("target", Assert.Throws<RetentionPolicyException>(() => RetentionPolicies.ParseTarget(text)).Field);
}
