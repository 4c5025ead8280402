using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using MQTTnet;
using Plexus.TestKit;
using static Plexus.TestKit.DeviceTestClients;

namespace Plexus.Devices.Tests;

/// <summary>
/// <c>device_state_asof(t)</c> against a model of what the test did: registrations, connects, state reports, positions
/// and a disconnect, each at a known instant of a fake clock.
/// </summary>
public sealed class DeviceStateAsOfTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task State_as_of_any_moment_matches_a_model_of_what_was_reported()
    {
        var clock = new FakeTimeProvider(T0);
        await using var server = await PlexusTestServer.StartAsync(time: clock);
        var model = new Model();

        // Before anything: the macro exists and answers with no rows.
        Assert.Empty(await AsOfAsync(server, T0));

        clock.SetUtcNow(T0 + TimeSpan.FromMinutes(1));
        string t1 = server.Server.Devices.Add(new NewDevice("d1", "Truck 1", "truck", new Dictionary<string, string> { ["fleet"] = "East" })).Token;
        model.Register("d1", "Truck 1", "truck", clock.GetUtcNow());
        string t2 = server.Server.Devices.Add(new NewDevice("d2", "Van 2", "van")).Token;
        model.Register("d2", "Van 2", "van", clock.GetUtcNow());

        clock.SetUtcNow(T0 + TimeSpan.FromMinutes(2));
        var d1 = await ConnectAsync(server, "d1", t1);
        model.Report("d1", "online", "true", clock.GetUtcNow());
        await WaitForHistoryAsync(server, model);

        clock.SetUtcNow(T0 + TimeSpan.FromMinutes(3));
        await PublishOkAsync(d1, "devices/d1/state", """{"firmware": "1.0", "battery": 80}""");
        model.Report("d1", "firmware", "1.0", clock.GetUtcNow());
        model.Report("d1", "battery", "80", clock.GetUtcNow());

        // Positions carry their own times: the second is older than the first (sent late).
        clock.SetUtcNow(T0 + TimeSpan.FromMinutes(4));
        await PublishOkAsync(d1, "devices/d1/location", $$"""{"lat": 52.1, "lon": 4.3, "ts": {{Ms(T0 + TimeSpan.FromMinutes(4))}}}""");
        model.Position("d1", 52.1, 4.3, T0 + TimeSpan.FromMinutes(4));
        await PublishOkAsync(d1, "devices/d1/location", $$"""{"lat": 52.0, "lon": 4.2, "ts": {{Ms(T0 + TimeSpan.FromMinutes(3.5))}}}""");
        model.Position("d1", 52.0, 4.2, T0 + TimeSpan.FromMinutes(3.5));

        clock.SetUtcNow(T0 + TimeSpan.FromMinutes(5));
        await PublishOkAsync(d1, "devices/d1/state", """{"battery": 75, "mode": "eco"}""");
        model.Report("d1", "battery", "75", clock.GetUtcNow());
        model.Report("d1", "mode", "eco", clock.GetUtcNow());
        server.Server.Devices.Update("d1", new DeviceChanges { NameSet = true, Name = "Truck One" });
        model.Register("d1", "Truck One", "truck", clock.GetUtcNow());

        clock.SetUtcNow(T0 + TimeSpan.FromMinutes(6));
        await d1.DisconnectAsync();
        d1.Dispose();
        model.Report("d1", "online", "false", clock.GetUtcNow());
        await WaitForHistoryAsync(server, model);

        clock.SetUtcNow(T0 + TimeSpan.FromMinutes(7));
        using var d2 = await ConnectAsync(server, "d2", t2);
        model.Report("d2", "online", "true", clock.GetUtcNow());
        await WaitForHistoryAsync(server, model);
        clock.SetUtcNow(T0 + TimeSpan.FromMinutes(8));
        await PublishOkAsync(d2, "devices/d2/state", """{"firmware": "2.0"}""");
        model.Report("d2", "firmware", "2.0", clock.GetUtcNow());

        double[] minutes = [0, 1, 1.5, 2, 2.5, 3, 3.5, 3.75, 4, 4.5, 5, 5.5, 6, 6.5, 7, 7.5, 8, 30];
        foreach (double m in minutes)
        {
            var t = T0 + TimeSpan.FromMinutes(m);
            var expected = model.AsOf(t);
            var actual = await AsOfAsync(server, t);
            Assert.True(expected.SequenceEqual(actual), $"at +{m} min:\nexpected {string.Join("\n         ", expected)}\nactual   {string.Join("\n         ", actual)}");
        }

        // A sanity check that the model is not trivially empty.
        Assert.Contains("d1 online=False props={battery=75,firmware=1.0,mode=eco} pos=52.1,4.3", string.Join("\n", model.AsOf(T0 + TimeSpan.FromMinutes(30))), StringComparison.Ordinal);
    }

    private static long Ms(DateTimeOffset t) => t.ToUnixTimeMilliseconds();

    private static async Task PublishOkAsync(IMqttClient client, string topic, string payload) =>
        Assert.True((await PublishAsync(client, topic, payload)).IsSuccess, topic);

    /// <summary>
    /// Connectivity rows are written after the CONNACK: wait until the store has every one the model expects (the
    /// first one creates state_history, so until then there is nothing to count).
    /// </summary>
    private static Task WaitForHistoryAsync(PlexusTestServer server, Model model) =>
        Eventually.TrueAsync(async () =>
        {
            var exists = await server.RowsAsync("SELECT count(*) FROM duckdb_views() WHERE schema_name = 'main' AND view_name = 'state_history'");
            return exists[0][0].GetInt64() == 1
                && (await server.RowsAsync("SELECT count(*) FROM state_history WHERE property = 'online'"))[0][0].GetInt64() == model.OnlineRows;
        });

    private static async Task<List<string>> AsOfAsync(PlexusTestServer server, DateTimeOffset t)
    {
        var rows = await server.RowsAsync($"""
            SELECT device, online, CAST(to_json(properties) AS VARCHAR), lat, lon, epoch_ns(position_time), registered, name, type
            FROM device_state_asof(TIMESTAMP '{t.UtcDateTime:yyyy-MM-dd HH:mm:ss.ffffff}')
            """);
        return [.. rows.Select(r =>
        {
            var props = JsonDocument.Parse(r[2].GetString()!).RootElement.EnumerateObject().Select(p => $"{p.Name}={p.Value.GetString()}");
            string pos = r[3].ValueKind == JsonValueKind.Null ? "none" : $"{r[3].GetDouble().ToString(CultureInfo.InvariantCulture)},{r[4].GetDouble().ToString(CultureInfo.InvariantCulture)}@{r[5].GetInt64()}";
            return $"{r[0].GetString()} online={r[1].GetBoolean()} props={{{string.Join(",", props)}}} pos={pos} registered={r[6].GetBoolean()} name={r[7].GetString()} type={r[8].GetString()}";
        })];
    }

    private sealed class Model
    {
        private readonly List<(string Device, string Property, string Value, DateTimeOffset At)> _history = [];
        private readonly List<(string Device, double Lat, double Lon, DateTimeOffset At)> _positions = [];
        private readonly List<(string Id, string Name, string Type, DateTimeOffset From)> _versions = [];

        public int OnlineRows => _history.Count(h => h.Property == "online");

        public void Register(string id, string name, string type, DateTimeOffset from) => _versions.Add((id, name, type, from));

        public void Report(string device, string property, string value, DateTimeOffset at) => _history.Add((device, property, value, at));

        public void Position(string device, double lat, double lon, DateTimeOffset at) => _positions.Add((device, lat, lon, at));

        public List<string> AsOf(DateTimeOffset t)
        {
            var registered = _versions.Where(v => v.From <= t).GroupBy(v => v.Id).ToDictionary(g => g.Key, g => g.MaxBy(v => v.From));
            var history = _history.Where(h => h.At <= t).ToList();
            var positions = _positions.Where(p => p.At <= t).ToList();
            var devices = registered.Keys.Concat(history.Select(h => h.Device)).Concat(positions.Select(p => p.Device)).Distinct().Order(StringComparer.Ordinal);
            var rows = new List<string>();
            foreach (string device in devices)
            {
                var latest = history.Where(h => h.Device == device).GroupBy(h => h.Property).ToDictionary(g => g.Key, g => g.MaxBy(h => h.At).Value);
                bool online = latest.GetValueOrDefault("online") == "true";
                var props = latest.Where(p => p.Key != "online").OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}");
                var last = positions.Where(p => p.Device == device).OrderBy(p => p.At).LastOrDefault();
                string pos = last.Device is null ? "none" : $"{last.Lat.ToString(CultureInfo.InvariantCulture)},{last.Lon.ToString(CultureInfo.InvariantCulture)}@{(last.At - DateTimeOffset.UnixEpoch).Ticks * 100}";
                var version = registered.GetValueOrDefault(device);
                rows.Add($"{device} online={online} props={{{string.Join(",", props)}}} pos={pos} registered={version.Id is not null} name={version.Name} type={version.Type}");
            }

            return rows;
        }
    }
}
