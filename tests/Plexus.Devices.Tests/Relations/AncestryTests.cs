namespace Plexus.Devices.Tests.Relations;

/// <summary>
/// <c>device_ancestors</c> and <c>asset_ancestors</c> against an independent walk of the hierarchy the test built:
/// region → site → building → floor → room, gateways in rooms, sensors under gateways (depth up to 6).
/// </summary>
public sealed class AncestryTests : IAsyncDisposable
{
    private readonly RelationsFixture _fixture = new();
    private readonly Dictionary<string, (string? Parent, string Kind, string Type)> _nodes = new(StringComparer.Ordinal);

    public ValueTask DisposeAsync() => _fixture.DisposeAsync();

    [Fact]
    public void Ancestors_of_every_device_and_asset_match_a_walk_of_the_tree()
    {
        Build();

        var expectedDevices = ExpectedAncestors("device");
        var actualDevices = _fixture.Rows("SELECT device_id, ancestor_id, ancestor_kind, ancestor_type, depth FROM main.device_ancestors")
            .Select(r => ((string)r[0]!, (string)r[1]!, (string)r[2]!, (string)r[3]!, Convert.ToInt32(r[4])))
            .Order().ToList();
        Assert.Equal(expectedDevices, actualDevices);
        Assert.Contains(actualDevices, r => r.Item5 >= 4);
        Assert.Equal(6, actualDevices.Max(r => r.Item5));

        var expectedAssets = ExpectedAncestors("asset").Select(r => (r.Node, r.Ancestor, r.Type, r.Depth)).ToList();
        var actualAssets = _fixture.Rows("SELECT asset_id, ancestor_id, ancestor_type, depth FROM main.asset_ancestors")
            .Select(r => ((string)r[0]!, (string)r[1]!, (string)r[2]!, Convert.ToInt32(r[3])))
            .Order().ToList();
        Assert.Equal(expectedAssets, actualAssets);
        Assert.Contains(actualAssets, r => r.Item4 == 4);
    }

    [Fact]
    public void A_per_site_rollup_is_one_join_and_follows_a_move()
    {
        Build();
        string sql = """
            SELECT a.ancestor_id AS site, count(*) AS devices
            FROM main.devices d JOIN main.device_ancestors a ON a.device_id = d.id AND a.ancestor_type = 'site'
            GROUP BY ALL ORDER BY site
            """;
        var before = _fixture.Rows(sql).ToDictionary(r => (string)r[0]!, r => Convert.ToInt64(r[1]));
        var expected = _nodes.Where(n => n.Value.Kind == "device" && Walk(n.Key).Any(a => _nodes[a.Id].Type == "site"))
            .GroupBy(n => Walk(n.Key).First(a => _nodes[a.Id].Type == "site").Id)
            .ToDictionary(g => g.Key, g => (long)g.Count());
        Assert.Equal(expected.OrderBy(p => p.Key), before.OrderBy(p => p.Key));

        // Moving a building to the other site moves everything under it.
        _fixture.Assets.Update("r1-s1-b1", new AssetChanges { ParentSet = true, Parent = "r1-s2" });
        _nodes["r1-s1-b1"] = _nodes["r1-s1-b1"] with { Parent = "r1-s2" };
        var after = _fixture.Rows(sql).ToDictionary(r => (string)r[0]!, r => Convert.ToInt64(r[1]));
        var expectedAfter = _nodes.Where(n => n.Value.Kind == "device" && Walk(n.Key).Any(a => _nodes[a.Id].Type == "site"))
            .GroupBy(n => Walk(n.Key).First(a => _nodes[a.Id].Type == "site").Id)
            .ToDictionary(g => g.Key, g => (long)g.Count());
        Assert.Equal(expectedAfter.OrderBy(p => p.Key), after.OrderBy(p => p.Key));
        Assert.NotEqual(before["r1-s2"], after["r1-s2"]);
    }

    private void Build()
    {
        string[] levels = ["region", "site", "building", "floor", "room"];
        void AddAsset(string id, string? parent, int level)
        {
            _fixture.Assets.Add(new NewAsset(id, id.ToUpperInvariant(), levels[level], null, parent));
            _nodes[id] = (parent, "asset", levels[level]);
            if (level + 1 < levels.Length)
            {
                for (int i = 1; i <= (level == 0 ? 2 : 2); i++)
                {
                    AddAsset($"{id}-{levels[level + 1][0]}{i}", id, level + 1);
                }
            }
            else
            {
                string gateway = id + "-gw";
                _fixture.Devices.Add(new NewDevice(gateway, Type: "gateway", Parent: id));
                _nodes[gateway] = (id, "device", "gateway");
                for (int s = 1; s <= 2; s++)
                {
                    string sensor = $"{gateway}-t{s}";
                    _fixture.Devices.Add(new NewDevice(sensor, Type: "thermometer", Parent: gateway));
                    _nodes[sensor] = (gateway, "device", "thermometer");
                }
            }
        }

        AddAsset("r1", null, 0);

        // A device straight under a region, and one with no parent at all.
        _fixture.Devices.Add(new NewDevice("loose", Type: "meter", Parent: "r1"));
        _nodes["loose"] = ("r1", "device", "meter");
        _fixture.Devices.Add(new NewDevice("orphan", Type: "meter"));
        _nodes["orphan"] = (null, "device", "meter");
    }

    private List<(string Id, int Depth)> Walk(string id)
    {
        var path = new List<(string, int)>();
        int depth = 0;
        for (string? parent = _nodes[id].Parent; parent is not null; parent = _nodes[parent].Parent)
        {
            path.Add((parent, ++depth));
        }

        return path;
    }

    private List<(string Node, string Ancestor, string Kind, string Type, int Depth)> ExpectedAncestors(string kind) =>
        _nodes.Where(n => n.Value.Kind == kind)
            .SelectMany(n => Walk(n.Key).Select(a => (n.Key, a.Id, _nodes[a.Id].Kind, _nodes[a.Id].Type, a.Depth)))
            .Order().ToList();
}
