using Microsoft.Extensions.Time.Testing;
using Plexus.Core;
using Plexus.Storage;
using Plexus.TestKit;

namespace Plexus.Devices.Tests;

/// <summary>The registry on a real DuckDB file: every operation, token validation, id rules, and a reopen.</summary>
public sealed class DeviceRegistryTests : IAsyncDisposable
{
    private readonly TempDirectory _directory = new("plexus-devices");
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));
    private PlexusStore? _store;

    public async ValueTask DisposeAsync()
    {
        if (_store is not null)
        {
            await _store.DisposeAsync();
        }

        _directory.Dispose();
    }

    [Fact]
    public void Added_device_is_returned_with_a_token_and_read_back()
    {
        using var registry = Open();
        var added = registry.Add(new NewDevice("truck-7", "Truck 7", "truck", Tags(("fleet", "East")), null));

        Assert.StartsWith(DeviceRegistry.TokenPrefix, added.Token, StringComparison.Ordinal);
        var device = registry.Get("truck-7");
        Assert.NotNull(device);
        Assert.Equal("Truck 7", device.Name);
        Assert.Equal("truck", device.Type);
        Assert.Equal("East", device.Tags["fleet"]);
        Assert.Equal(_time.GetUtcNow(), device.CreatedAt);
        Assert.Equal(device.CreatedAt, device.UpdatedAt);
        Assert.Null(registry.Get("truck-8"));
    }

    [Fact]
    public void Adding_an_existing_id_is_a_conflict()
    {
        using var registry = Open();
        registry.Add(new NewDevice("d1"));

        var error = Assert.Throws<RegistryException>(() => registry.Add(new NewDevice("d1")));
        Assert.Equal(RegistryErrorKind.Conflict, error.Kind);
    }

    [Theory]
    [InlineData("")]
    [InlineData("a/b")]
    [InlineData("a+b")]
    [InlineData("a#")]
    [InlineData("with space")]
    [InlineData("ünïcode")]
    public void Bad_id_is_refused_naming_the_id_field(string id)
    {
        using var registry = Open();

        var error = Assert.Throws<RegistryException>(() => registry.Add(new NewDevice(id)));
        Assert.Equal(RegistryErrorKind.Invalid, error.Kind);
        Assert.Equal("id", error.Field);
        Assert.Equal(0, registry.Count);
    }

    [Theory]
    [InlineData("a")]
    [InlineData("truck-7")]
    [InlineData("site_1.floor:2")]
    public void Good_ids_are_accepted(string id)
    {
        using var registry = Open();
        registry.Add(new NewDevice(id));
        Assert.NotNull(registry.Get(id));
    }

    [Fact]
    public void Id_of_128_characters_is_accepted_and_129_refused()
    {
        Assert.True(DeviceValidation.IsValidId(new string('a', 128), out _));
        Assert.False(DeviceValidation.IsValidId(new string('a', 129), out string? problem));
        Assert.Contains("128", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void List_filters_by_every_tag_given_and_pages_in_id_order()
    {
        using var registry = Open();
        registry.Add(new NewDevice("c", Tags: Tags(("fleet", "East"), ("kind", "truck"))));
        registry.Add(new NewDevice("a", Tags: Tags(("fleet", "East"))));
        registry.Add(new NewDevice("b", Tags: Tags(("fleet", "West"))));
        registry.Add(new NewDevice("d", Tags: Tags(("fleet", "East"), ("kind", "truck"))));

        Assert.Equal(["a", "b", "c", "d"], registry.List().Devices.Select(d => d.Id));
        var east = registry.List([new("fleet", "East")]);
        Assert.Equal(["a", "c", "d"], east.Devices.Select(d => d.Id));
        Assert.Equal(3, east.Total);
        Assert.Equal(["c", "d"], registry.List([new("fleet", "East"), new("kind", "truck")]).Devices.Select(d => d.Id));

        var page = registry.List([new("fleet", "East")], limit: 1, offset: 1);
        Assert.Equal(["c"], page.Devices.Select(d => d.Id));
        Assert.Equal(3, page.Total);
        Assert.Empty(registry.List(limit: 10, offset: 10).Devices);
    }

    [Fact]
    public void Update_changes_only_the_fields_set_and_a_set_null_clears()
    {
        using var registry = Open();
        registry.Add(new NewDevice("parent"));
        registry.Add(new NewDevice("d1", "old", "sensor", Tags(("fleet", "East"))));
        _time.Advance(TimeSpan.FromMinutes(1));

        var updated = registry.Update("d1", new DeviceChanges { NameSet = true, Name = "new", ParentSet = true, Parent = "parent" });
        Assert.Equal("new", updated.Name);
        Assert.Equal("sensor", updated.Type);
        Assert.Equal("East", updated.Tags["fleet"]);
        Assert.Equal("parent", updated.Parent);
        Assert.Equal(_time.GetUtcNow(), updated.UpdatedAt);
        Assert.True(updated.UpdatedAt > updated.CreatedAt);

        updated = registry.Update("d1", new DeviceChanges { TypeSet = true, Type = null, TagsSet = true, Tags = Tags(("fleet", "West")) });
        Assert.Null(updated.Type);
        Assert.Equal("West", updated.Tags["fleet"]);
        Assert.Equal("new", updated.Name);
    }

    [Fact]
    public void Update_of_an_unknown_device_or_to_an_unknown_parent_is_refused()
    {
        using var registry = Open();
        registry.Add(new NewDevice("d1"));

        Assert.Equal(RegistryErrorKind.NotFound, Assert.Throws<RegistryException>(() => registry.Update("nope", new DeviceChanges { NameSet = true, Name = "x" })).Kind);
        var parent = Assert.Throws<RegistryException>(() => registry.Update("d1", new DeviceChanges { ParentSet = true, Parent = "ghost" }));
        Assert.Equal("parent", parent.Field);
        var self = Assert.Throws<RegistryException>(() => registry.Update("d1", new DeviceChanges { ParentSet = true, Parent = "d1" }));
        Assert.Equal("parent", self.Field);
    }

    [Fact]
    public void Removed_device_is_gone_and_its_token_stops_working()
    {
        using var registry = Open();
        string token = registry.Add(new NewDevice("d1")).Token;

        Assert.True(registry.Remove("d1"));
        Assert.False(registry.Remove("d1"));
        Assert.Null(registry.Get("d1"));
        Assert.False(registry.Validate("d1", token));
    }

    [Fact]
    public void Token_validates_only_for_its_own_device_and_a_rotated_out_token_fails_at_once()
    {
        using var registry = Open();
        string token1 = registry.Add(new NewDevice("d1")).Token;
        string token2 = registry.Add(new NewDevice("d2")).Token;

        Assert.True(registry.Validate("d1", token1));
        Assert.False(registry.Validate("d2", token1));
        Assert.False(registry.Validate("d1", token2));
        Assert.False(registry.Validate("d1", token1 + "x"));
        Assert.False(registry.Validate("d1", ""));
        Assert.False(registry.Validate("ghost", token1));

        string rotated = registry.RotateToken("d1");
        Assert.NotEqual(token1, rotated);
        Assert.False(registry.Validate("d1", token1));
        Assert.True(registry.Validate("d1", rotated));
        Assert.Equal(RegistryErrorKind.NotFound, Assert.Throws<RegistryException>(() => registry.RotateToken("ghost")).Kind);
    }

    [Fact]
    public async Task Registry_survives_a_reopen_and_stores_only_the_token_hash()
    {
        string token;
        DateTimeOffset created;
        using (var registry = Open())
        {
            var added = registry.Add(new NewDevice("d1", "Name 'quoted'", null, Tags(("k\"ey", "va'lue")), null));
            token = added.Token;
            created = added.Device.CreatedAt;
        }

        await _store!.DisposeAsync();
        _store = null;
        using (var registry = Open())
        {
            var device = registry.Get("d1");
            Assert.NotNull(device);
            Assert.Equal("Name 'quoted'", device.Name);
            Assert.Equal("va'lue", device.Tags["k\"ey"]);
            Assert.Equal(created, device.CreatedAt);
            Assert.True(registry.Validate("d1", token));
        }

        // Only the hash, and only in the credential journal: no table SQL can read holds it.
        string journal = await File.ReadAllTextAsync(Path.Combine(_directory.Path, DeviceCredentialFile.FileName));
        Assert.DoesNotContain(token, journal, StringComparison.Ordinal);
        Assert.Contains("set d1 " + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(token))), journal, StringComparison.Ordinal);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_directory.Path, DeviceCredentialFile.FileName)));
        }
        Assert.Empty(Rows("SELECT column_name FROM duckdb_columns() WHERE column_name ILIKE '%hash%' OR column_name ILIKE '%token%'"));
    }

    [Fact]
    public async Task Many_devices_added_at_once_each_stand_alone_may_hang_from_an_earlier_one_and_survive_a_reopen()
    {
        var devices = Enumerable.Range(0, 2_000).Select(i => new NewDevice($"sensor-{i:D4}", null, "sensor", Tags(("row", i.ToString(System.Globalization.CultureInfo.InvariantCulture))), i == 0 ? null : "sensor-0000")).ToList();
        devices.Insert(1, new NewDevice("bad id!", null, null, Tags(), null));
        devices.Insert(2, new NewDevice("sensor-0000", null, null, Tags(), null));
        devices.Add(new NewDevice("orphan", null, null, Tags(), "nowhere"));
        IReadOnlyList<(RegisteredDevice? Added, RegistryException? Error)> results;
        using (var registry = Open())
        {
            registry.Add(new NewDevice("taken", null, null, Tags(), null));
            devices.Add(new NewDevice("taken", null, null, Tags(), null));
            results = registry.AddMany(devices);

            Assert.Equal(devices.Count, results.Count);
            Assert.Equal(2_000, results.Count(r => r.Added is not null));
            Assert.Equal("id", results[1].Error?.Field);
            Assert.Equal(RegistryErrorKind.Conflict, results[2].Error?.Kind);
            Assert.Equal("parent", results[^2].Error?.Field);
            Assert.Equal(RegistryErrorKind.Conflict, results[^1].Error?.Kind);
            Assert.Null(registry.Get("orphan"));
            Assert.True(registry.Validate("sensor-1999", results[2_001].Added!.Token));
        }

        await _store!.DisposeAsync();
        _store = null;
        using (var registry = Open())
        {
            Assert.Equal("sensor-0000", registry.Get("sensor-1234")?.Parent);
            Assert.True(registry.Validate("sensor-0008", results[10].Added!.Token));
            Assert.Equal(2_001, registry.List(limit: 10).Total);
        }
    }

    [Fact]
    public async Task A_data_folder_with_hashes_in_the_table_moves_them_out_on_open_and_devices_still_connect()
    {
        string token;
        using (var registry = Open())
        {
            token = registry.Add(new NewDevice("old-1")).Token;
        }

        // The layout of earlier releases: the hash as a column of the registry table, no journal.
        string hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(token)));
        using (var connection = _store!.OpenMetadataConnection())
        {
            connection.Execute($"ALTER TABLE _plexus.devices ADD COLUMN token_hash VARCHAR; UPDATE _plexus.devices SET token_hash = '{hash}'");
        }

        File.Delete(Path.Combine(_directory.Path, DeviceCredentialFile.FileName));
        await _store.DisposeAsync();
        _store = null;

        using (var registry = Open())
        {
            Assert.True(registry.Validate("old-1", token));
            Assert.False(registry.Validate("old-1", token + "x"));
        }

        Assert.Empty(Rows("SELECT column_name FROM duckdb_columns() WHERE table_name = 'devices' AND column_name = 'token_hash'"));
        await _store!.DisposeAsync();
        _store = null;
        using (var reopened = Open())
        {
            Assert.True(reopened.Validate("old-1", token));
        }
    }

    [Fact]
    public async Task Credential_journal_keeps_rotations_and_removals_across_a_reopen_and_drops_a_torn_last_line()
    {
        string keep;
        string rotated;
        using (var registry = Open())
        {
            keep = registry.Add(new NewDevice("keep")).Token;
            registry.Add(new NewDevice("gone"));
            string old = registry.Add(new NewDevice("turn")).Token;
            rotated = registry.RotateToken("turn");
            Assert.NotEqual(old, rotated);
            Assert.True(registry.Remove("gone"));
        }

        await _store!.DisposeAsync();
        _store = null;
        await File.AppendAllTextAsync(Path.Combine(_directory.Path, DeviceCredentialFile.FileName), "set keep 00");
        using var reopened = Open();

        Assert.True(reopened.Validate("keep", keep));
        Assert.True(reopened.Validate("turn", rotated));
        Assert.Null(reopened.Get("gone"));
    }

    [Fact]
    public async Task A_damaged_credential_journal_stops_the_open_with_its_line_number()
    {
        using (var registry = Open())
        {
            registry.Add(new NewDevice("d1"));
        }

        await _store!.DisposeAsync();
        _store = null;
        string path = Path.Combine(_directory.Path, DeviceCredentialFile.FileName);
        await File.AppendAllTextAsync(path, "set d2 not-a-hash\nset d3 " + new string('a', 64) + "\n");

        var error = Assert.Throws<InvalidOperationException>(() => Open());
        Assert.Contains("line 3", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Sql_view_has_metadata_and_tags_as_a_map_but_no_hash()
    {
        using var registry = Open();
        registry.Add(new NewDevice("d1", "One", Tags: Tags(("fleet", "East"))));

        using var connection = _store!.OpenReadConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT * FROM main.devices";
        using var reader = command.ExecuteReader();
        var columns = Enumerable.Range(0, reader.FieldCount).Select(reader.GetName).ToList();
        Assert.Equal(["id", "name", "type", "tags", "parent", "created_at", "updated_at", "measurements"], columns);

        command.CommandText = "SELECT tags['fleet'] FROM devices WHERE id = 'd1'";
        reader.Dispose();
        Assert.Equal("East", command.ExecuteScalar()?.ToString());
    }

    [Fact]
    public async Task A_token_alone_finds_its_device_until_rotated_or_removed_and_after_a_reopen()
    {
        string d1, d2, chosen;
        using (var registry = Open())
        {
            d1 = registry.Add(new NewDevice("d1")).Token;
            d2 = registry.Add(new NewDevice("d2")).Token;
            chosen = registry.AddWithToken(new NewDevice("d3"), "plxp_chosen-by-the-caller").Token;
            Assert.Equal("d1", registry.FindByToken(d1));
            Assert.Equal("d3", registry.FindByToken(chosen));
            Assert.Null(registry.FindByToken("plxd_unknown"));
            Assert.Null(registry.FindByToken(null));

            string rotated = registry.RotateToken("d1");
            Assert.Null(registry.FindByToken(d1));
            Assert.Equal("d1", registry.FindByToken(rotated));
            d1 = rotated;
            Assert.True(registry.Remove("d2"));
            Assert.Null(registry.FindByToken(d2));
        }

        await _store!.DisposeAsync();
        _store = null;
        using (var registry = Open())
        {
            Assert.Equal("d1", registry.FindByToken(d1));
            Assert.Equal("d3", registry.FindByToken(chosen));
            Assert.True(registry.Validate("d3", chosen));
            Assert.Null(registry.FindByToken(d2));
        }
    }

    private DeviceRegistry Open()
    {
        _store ??= PlexusStore.Open(new StorageOptions { DataDirectory = _directory.Path });
        return DeviceRegistry.Open(_store, _time);
    }

    private List<object?[]> Rows(string sql)
    {
        _store ??= PlexusStore.Open(new StorageOptions { DataDirectory = _directory.Path });
        return StoreRows.Read(_store, sql);
    }

    private static Dictionary<string, string> Tags(params (string Key, string Value)[] tags) => tags.ToDictionary(t => t.Key, t => t.Value);
}
