using Plexus.Core;
using Plexus.TestKit;

namespace Plexus.Devices.Tests.Relations;

/// <summary>
/// Metadata as of time t (<c>devices_asof</c>, <c>assets_asof</c>, <c>with_device_asof</c>) against a model built
/// outside SQL: a snapshot of the in-memory registry taken after every change, the answer at t being the last
/// snapshot at or before t. It checks that history agrees with what the registry said at each moment; the registry's
/// own behaviour is <c>DeviceRegistryTests</c>' and <c>AssetRegistryTests</c>'.
/// </summary>
public sealed class MetadataHistoryTests : IAsyncDisposable
{
    private readonly RelationsFixture _fixture = new("device,fleet=name");
    private readonly List<(DateTimeOffset At, Dictionary<string, string> Devices, Dictionary<string, string> Assets)> _snapshots = [];

    public ValueTask DisposeAsync() => _fixture.DisposeAsync();

    [Fact]
    public async Task Metadata_as_of_any_time_is_the_state_after_the_last_change_before_it()
    {
        var changes = Script();
        foreach (var (after, change) in changes)
        {
            _fixture.Time.Advance(after);
            change();
            Snapshot();
        }

        // Before anything, at each change, between changes, and long after; then again after a restart.
        var times = new List<DateTimeOffset> { RelationsFixture.Start - TimeSpan.FromDays(1), _fixture.Time.GetUtcNow() + TimeSpan.FromDays(1) };
        foreach (var snapshot in _snapshots)
        {
            times.Add(snapshot.At);
            times.Add(snapshot.At + TimeSpan.FromSeconds(1));
            times.Add(snapshot.At - TimeSpan.FromTicks(10));
        }

        CheckAll(times);
        await _fixture.ReopenAsync();
        CheckAll(times);
    }

    [Fact]
    public async Task Late_data_is_joined_to_the_metadata_valid_at_the_row_time()
    {
        var t0 = RelationsFixture.Start;
        _fixture.Devices.Add(new NewDevice("truck_1", "Truck 1", "truck", new Dictionary<string, string> { ["fleet"] = "East" }));
        _fixture.Time.Advance(TimeSpan.FromHours(1));
        _fixture.Devices.Update("truck_1", new DeviceChanges { TagsSet = true, Tags = new Dictionary<string, string> { ["fleet"] = "West" }, NameSet = true, Name = "Truck One" });
        _fixture.Time.Advance(TimeSpan.FromHours(1));
        _fixture.Devices.Remove("truck_1");
        _fixture.Time.Advance(TimeSpan.FromHours(1));

        // All of it arrives after the last change: the rows' own times decide which metadata applies.
        var rowTimes = new[] { t0 - TimeSpan.FromMinutes(5), t0, t0 + TimeSpan.FromMinutes(59), t0 + TimeSpan.FromHours(1), t0 + TimeSpan.FromMinutes(90), t0 + TimeSpan.FromHours(2), t0 + TimeSpan.FromHours(5) };
        var points = new PointBuilder();
        foreach (var time in rowTimes)
        {
            points.Point("readings", (time - DateTimeOffset.UnixEpoch).Ticks * 100, [("name", "truck_1")], ("velocity", 1.0));
        }

        var written = await _fixture.Store.Writer.WriteAsync("fleet", points.Batch);
        Assert.Equal(rowTimes.Length, written.PointsWritten);

        var rows = _fixture.Rows("SELECT time, device_id, device_name, device_tags['fleet'] FROM with_device_asof('fleet.readings') ORDER BY time");
        Assert.Equal(rowTimes.Length, rows.Count);
        string?[] expectedFleet = [null, "East", "East", "West", "West", null, null];
        string?[] expectedName = [null, "Truck 1", "Truck 1", "Truck One", "Truck One", null, null];
        for (int i = 0; i < rows.Count; i++)
        {
            Assert.Equal("truck_1", rows[i][1]);
            Assert.Equal(expectedName[i], rows[i][2]);
            Assert.Equal(expectedFleet[i], rows[i][3]);
        }

        // The current-metadata join sees the device as gone (unregistered, since its key is in the data).
        Assert.True(_fixture.Links.Refresh());
        var current = _fixture.Rows("SELECT DISTINCT device_id, device_registered, device_name FROM with_device('fleet.readings')");
        Assert.Equal(["truck_1", false, null], Assert.Single(current));
    }

    private List<(TimeSpan After, Action Change)> Script()
    {
        var devices = _fixture.Devices;
        var assets = _fixture.Assets;
        Dictionary<string, string> Tags(string fleet) => new() { ["fleet"] = fleet };
        return
        [
            (TimeSpan.Zero, () => assets.Add(new NewAsset("site-a", "Site A", "site"))),
            (TimeSpan.FromMinutes(1), () => assets.Add(new NewAsset("site-b", "Site B", "site"))),
            (TimeSpan.FromMinutes(2), () => devices.Add(new NewDevice("d1", "One", "truck", Tags("East"), "site-a"))),
            (TimeSpan.FromMinutes(3), () => devices.Add(new NewDevice("d2", "Two", "truck", Tags("East"), "site-a"))),
            (TimeSpan.FromMinutes(10), () => devices.Update("d1", new DeviceChanges { TagsSet = true, Tags = Tags("West") })),
            (TimeSpan.FromMinutes(10), () => devices.Update("d1", new DeviceChanges { ParentSet = true, Parent = "site-b" })),
            (TimeSpan.FromSeconds(30), () => assets.Update("site-a", new AssetChanges { NameSet = true, Name = "Site A (north)" })),
            (TimeSpan.FromHours(1), () => devices.Remove("d2")),
            (TimeSpan.FromMinutes(5), () => devices.Add(new NewDevice("d2", "Two again", "van", Tags("North")))),
            (TimeSpan.FromMinutes(5), () => assets.Remove("site-a")),
            (TimeSpan.FromMinutes(5), () => devices.Update("d1", new DeviceChanges { NameSet = true, Name = null, TypeSet = true, Type = "lorry" })),
        ];
    }

    private void Snapshot()
    {
        static string Describe(string? name, string? type, IReadOnlyDictionary<string, string> tags, string? parent) =>
            $"{name}|{type}|{string.Join(',', tags.OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => t.Key + "=" + t.Value))}|{parent}";

        var devices = _fixture.Devices.List(limit: 1000).Devices.ToDictionary(d => d.Id, d => Describe(d.Name, d.Type, d.Tags, d.Parent));
        var assets = _fixture.Assets.List(limit: 1000).Assets.ToDictionary(a => a.Id, a => Describe(a.Name, a.Type, a.Tags, a.Parent));
        _snapshots.Add((_fixture.Time.GetUtcNow(), devices, assets));
    }

    private void CheckAll(List<DateTimeOffset> times)
    {
        foreach (var time in times)
        {
            var snapshot = _snapshots.LastOrDefault(s => s.At <= time);
            Assert.Equal(Sorted(snapshot.Devices), Query("devices_asof", time));
            Assert.Equal(Sorted(snapshot.Assets), Query("assets_asof", time));
        }
    }

    private List<string> Query(string macro, DateTimeOffset time) =>
        _fixture.Rows($"""
            SELECT id || ':' || coalesce(name, '') || '|' || coalesce(type, '') || '|'
                   || coalesce(array_to_string(list_sort(list_transform(map_entries(tags), e -> e.key || '=' || e.value)), ','), '') || '|' || coalesce(parent, '')
            FROM {macro}({RelationsFixture.Sql(time)}) ORDER BY id
            """)
            .Select(r => (string)r[0]!).ToList();

    private static List<string> Sorted(Dictionary<string, string>? state) =>
        state is null ? [] : [.. state.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Key + ":" + p.Value)];
}
