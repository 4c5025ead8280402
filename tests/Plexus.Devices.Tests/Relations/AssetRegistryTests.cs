using Plexus.Core;
namespace Plexus.Devices.Tests.Relations;

/// <summary>Assets on a real DuckDB file: the tree, its validation, removal with children, and a reopen.</summary>
public sealed class AssetRegistryTests : IAsyncDisposable
{
    private readonly RelationsFixture _fixture = new();

    public ValueTask DisposeAsync() => _fixture.DisposeAsync();

    [Fact]
    public async Task Assets_are_stored_listed_filtered_and_survive_a_reopen()
    {
        var assets = _fixture.Assets;
        assets.Add(new NewAsset("site-1", "Plant 1", "site", new Dictionary<string, string> { ["region"] = "EU" }));
        assets.Add(new NewAsset("b-1", "Hall A", "building", null, "site-1"));
        assets.Add(new NewAsset("b-2", "Hall B", "building", null, "site-1"));
        assets.Add(new NewAsset("site-2", "Plant 2", "site", new Dictionary<string, string> { ["region"] = "US" }));

        Assert.Equal(["b-1", "b-2"], assets.List(type: "building").Assets.Select(a => a.Id));
        Assert.Equal(["site-1"], assets.List(tags: [new("region", "EU")]).Assets.Select(a => a.Id));
        var page = assets.List(limit: 2, offset: 1);
        Assert.Equal(["b-2", "site-1"], page.Assets.Select(a => a.Id));
        Assert.Equal(4, page.Total);
        Assert.Equal(["b-1", "b-2"], assets.Children("site-1").Assets);

        await _fixture.ReopenAsync();

        var reloaded = _fixture.Assets.Get("b-1");
        Assert.NotNull(reloaded);
        Assert.Equal("Hall A", reloaded.Name);
        Assert.Equal("site-1", reloaded.Parent);
        Assert.Equal(RelationsFixture.Start, reloaded.CreatedAt);
        var rows = _fixture.Rows("SELECT id, tags['region'] FROM main.assets WHERE type = 'site' ORDER BY id");
        Assert.Equal(["site-1", "EU"], rows[0]);
        Assert.Equal(["site-2", "US"], rows[1]);
    }

    [Fact]
    public void Cycles_and_missing_parents_are_refused_for_assets_and_devices()
    {
        var assets = _fixture.Assets;
        var devices = _fixture.Devices;
        assets.Add(new NewAsset("a"));
        assets.Add(new NewAsset("b", Parent: "a"));
        assets.Add(new NewAsset("c", Parent: "b"));

        var cycle = Assert.Throws<RegistryException>(() => assets.Update("a", new AssetChanges { ParentSet = true, Parent = "c" }));
        Assert.Equal("parent", cycle.Field);
        Assert.Contains("cycle: a → c → b → a", cycle.Message, StringComparison.Ordinal);
        Assert.Equal("parent", Assert.Throws<RegistryException>(() => assets.Update("a", new AssetChanges { ParentSet = true, Parent = "a" })).Field);
        Assert.Equal("parent", Assert.Throws<RegistryException>(() => assets.Add(new NewAsset("x", Parent: "ghost"))).Field);

        devices.Add(new NewDevice("gw", Parent: "c"));
        devices.Add(new NewDevice("s1", Parent: "gw"));
        devices.Add(new NewDevice("s2", Parent: "s1"));
        var deviceCycle = Assert.Throws<RegistryException>(() => devices.Update("gw", new DeviceChanges { ParentSet = true, Parent = "s2" }));
        Assert.Equal("parent", deviceCycle.Field);
        Assert.Contains("cycle", deviceCycle.Message, StringComparison.Ordinal);

        // An asset never hangs from a device, and ids are shared.
        Assert.Contains("is a device", Assert.Throws<RegistryException>(() => assets.Add(new NewAsset("room", Parent: "gw"))).Message, StringComparison.Ordinal);
        Assert.Equal(RegistryErrorKind.Conflict, Assert.Throws<RegistryException>(() => assets.Add(new NewAsset("gw"))).Kind);
        Assert.Equal(RegistryErrorKind.Conflict, Assert.Throws<RegistryException>(() => devices.Add(new NewDevice("a"))).Kind);

        // Nothing refused was stored.
        Assert.Null(assets.Get("a")!.Parent);
        Assert.Equal("c", devices.Get("gw")!.Parent);
    }

    [Fact]
    public void Removing_an_asset_with_children_is_refused_unless_cascading()
    {
        var assets = _fixture.Assets;
        assets.Add(new NewAsset("site"));
        assets.Add(new NewAsset("building", Parent: "site"));
        assets.Add(new NewAsset("floor", Parent: "building"));
        _fixture.Devices.Add(new NewDevice("sensor", Parent: "floor"));
        _fixture.Devices.Add(new NewDevice("meter", Parent: "site"));

        var refused = Assert.Throws<RegistryException>(() => assets.Remove("site"));
        Assert.Equal(RegistryErrorKind.Conflict, refused.Kind);
        Assert.Contains("cascade=", refused.Message, StringComparison.Ordinal);
        Assert.NotNull(assets.Get("site"));

        Assert.True(assets.Remove("building", AssetCascade.Delete));
        Assert.Null(assets.Get("building"));
        Assert.Null(assets.Get("floor"));
        Assert.Null(_fixture.Devices.Get("sensor")!.Parent);

        Assert.True(assets.Remove("site", AssetCascade.Detach));
        Assert.Null(_fixture.Devices.Get("meter")!.Parent);
        Assert.False(assets.Remove("site"));
        Assert.Empty(_fixture.Rows("SELECT * FROM main.assets"));

        // Removed assets keep their history, closed.
        Assert.Empty(_fixture.Rows("SELECT * FROM main.asset_history WHERE valid_to IS NULL"));
        Assert.Equal(3, _fixture.Rows("SELECT DISTINCT id FROM main.asset_history").Count);
    }
}
