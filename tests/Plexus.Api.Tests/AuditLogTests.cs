using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MQTTnet;
using Plexus.Devices;
using Plexus.TestKit;

namespace Plexus.Api.Tests;

/// <summary>
/// The audit log: every admin action, and every refused or failed attempt by a known principal, is a row of
/// main.audit_log (and of GET /api/v1/audit) with who, what, when, from where and how it ended.
/// </summary>
public sealed class AuditLogTests
{
    private const string Geofence = """{"type": "Feature", "properties": {"name": "depot"}, "geometry": {"type": "Polygon", "coordinates": [[[4.30, 52.10], [4.32, 52.10], [4.32, 52.12], [4.30, 52.10]]]}}""";

    [Fact]
    public async Task Every_kind_of_admin_action_is_recorded_with_its_principal_target_and_outcome()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string ops = server.Server.ApiTokens.Create("ops", Api.Auth.ApiScope.Admin).Token;
        using var opsClient = server.ClientWithToken(ops);
        (string Method, string Path, string? Body, string? ContentType, HttpStatusCode Status, string Action, string Kind, string? Target)[] steps =
        [
            ("POST", "/api/v1/tokens", """{"name": "grafana", "scope": "read", "namespaces": ["partner_a"]}""", null, HttpStatusCode.Created, "token.create", "token", "grafana"),
            ("DELETE", "/api/v1/tokens/grafana", null, null, HttpStatusCode.NoContent, "token.revoke", "token", "grafana"),
            ("POST", "/api/v1/devices", """{"id": "truck-1", "name": "Truck 1"}""", null, HttpStatusCode.Created, "device.add", "device", "truck-1"),
            ("POST", "/api/v1/devices/bulk", """[{"id": "truck-2"}, {"id": "truck-3"}]""", null, HttpStatusCode.OK, "device.bulk_add", "device", null),
            ("PATCH", "/api/v1/devices/truck-1", """{"name": "Truck One", "tags": {"fleet": "East"}}""", null, HttpStatusCode.OK, "device.update", "device", "truck-1"),
            ("POST", "/api/v1/devices/truck-1/rotate-token", null, null, HttpStatusCode.OK, "device.rotate_token", "device", "truck-1"),
            ("DELETE", "/api/v1/devices/truck-2", null, null, HttpStatusCode.NoContent, "device.remove", "device", "truck-2"),
            ("POST", "/api/v1/assets", """{"id": "site-1", "type": "site"}""", null, HttpStatusCode.Created, "asset.add", "asset", "site-1"),
            ("POST", "/api/v1/assets/import", "id,parent\nfloor-1,site-1\n", "text/csv", HttpStatusCode.OK, "asset.import", "asset", null),
            ("PATCH", "/api/v1/assets/site-1", """{"name": "Plant 1"}""", null, HttpStatusCode.OK, "asset.update", "asset", "site-1"),
            ("DELETE", "/api/v1/assets/site-1?cascade=delete", null, null, HttpStatusCode.NoContent, "asset.remove", "asset", "site-1"),
            ("POST", "/api/v1/geofences", Geofence, null, HttpStatusCode.Created, "geofence.add", "geofence", "depot"),
            ("PUT", "/api/v1/geofences/depot", Geofence, null, HttpStatusCode.OK, "geofence.put", "geofence", "depot"),
            ("DELETE", "/api/v1/geofences/depot", null, null, HttpStatusCode.NoContent, "geofence.remove", "geofence", "depot"),
            ("POST", "/api/v1/position-sources", """{"namespace": "fleet", "measurement": "readings", "lat": "latitude", "lon": "longitude"}""", null, HttpStatusCode.Created, "position_source.put", "position_source", "fleet.readings"),
            ("DELETE", "/api/v1/position-sources/fleet.readings", null, null, HttpStatusCode.NoContent, "position_source.remove", "position_source", "fleet.readings"),
        ];

        for (int i = 0; i < steps.Length; i++)
        {
            var step = steps[i];
            using var response = await SendAsync(i % 2 == 0 ? server.Client : opsClient, step.Method, step.Path, step.Body, step.ContentType);
            Assert.True(step.Status == response.StatusCode, $"{step.Method} {step.Path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }

        var rows = await server.RowsAsync("SELECT principal, action, target_kind, target_id, outcome, status, address, detail FROM main.audit_log ORDER BY id");
        Assert.Equal(steps.Length, rows.Count);
        for (int i = 0; i < steps.Length; i++)
        {
            var (step, row) = (steps[i], rows[i]);
            Assert.Equal(i % 2 == 0 ? "admin" : "ops", row[0].GetString());
            Assert.Equal(step.Action, row[1].GetString());
            Assert.Equal(step.Kind, row[2].GetString());
            Assert.Equal(step.Target, row[3].GetString());
            Assert.Equal("ok", row[4].GetString());
            Assert.Equal((int)step.Status, row[5].GetInt32());
            Assert.Equal("127.0.0.1", row[6].GetString());
        }

        // Details say what, never a secret: no token, no device token.
        var details = rows.Select(r => r[7].GetString() ?? "").ToList();
        Assert.Equal("scope read, namespaces partner_a", details[0]);
        Assert.Equal("created 2, failed 0: truck-2, truck-3", details[3]);
        Assert.Equal("fields name, tags", details[4]);
        Assert.Equal("cascade delete", details[10]);
        Assert.DoesNotContain(details, d => d.Contains("plx", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Failed_and_refused_attempts_are_recorded_with_their_outcome()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string readToken = server.Server.ApiTokens.Create("viewer", Api.Auth.ApiScope.Read).Token;
        string deviceToken = server.Server.Devices.Add(new NewDevice("d0")).Token;
        using var viewer = server.ClientWithToken(readToken);
        using var device = server.ClientWithToken(deviceToken);
        using var anonymous = new HttpClient { BaseAddress = server.Address };

        using (var missing = await server.Client.DeleteAsync("/api/v1/devices/ghost"))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }

        using (var duplicate = await server.Client.PostAsJsonAsync("/api/v1/devices", new { id = "d0" }))
        {
            Assert.Equal(HttpStatusCode.Conflict, duplicate.StatusCode);
        }

        using (var forbidden = await viewer.DeleteAsync("/api/v1/devices/d0"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        }

        using (var byDevice = await device.PostAsync("/api/v1/devices/d0/rotate-token", null))
        {
            Assert.Equal(HttpStatusCode.Forbidden, byDevice.StatusCode);
        }

        using (var nobody = await anonymous.DeleteAsync("/api/v1/devices/d0"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, nobody.StatusCode);
        }

        var rows = await server.RowsAsync("SELECT principal, action, target_id, outcome, status, detail FROM main.audit_log ORDER BY id");
        Assert.Equal(4, rows.Count);
        Assert.Equal(["admin", "device.remove", "ghost", "not_found"], rows[0].Take(4).Select(v => v.GetString()));
        Assert.Equal(404, rows[0][4].GetInt32());
        Assert.Contains("no device \"ghost\" is registered", rows[0][5].GetString(), StringComparison.Ordinal);
        Assert.Equal(["admin", "device.add", "d0", "conflict"], rows[1].Take(4).Select(v => v.GetString()));
        Assert.Equal(409, rows[1][4].GetInt32());
        Assert.Equal(["viewer", "device.remove", "d0", "forbidden"], rows[2].Take(4).Select(v => v.GetString()));
        Assert.Equal(["device:d0", "device.rotate_token", "d0", "forbidden"], rows[3].Take(4).Select(v => v.GetString()));
        Assert.NotNull(server.Server.Devices.Get("d0"));
    }

    [Fact]
    public async Task Exports_and_imports_are_recorded_with_what_they_moved_and_by_whom()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string reader = server.Server.ApiTokens.Create("analyst", Api.Auth.ApiScope.Read).Token;
        using var readerClient = server.ClientWithToken(reader);
        using (var imported = await SendAsync(server.Client, "POST", "/api/v1/import?format=csv&into=main.readings&tag_columns=device", "time,device,temp\n2026-01-01T00:00:00Z,d1,20.5\n2026-01-01T00:01:00Z,d1,oops\n", "text/csv"))
        {
            Assert.Equal(HttpStatusCode.OK, imported.StatusCode);
        }

        using (var exported = await SendAsync(readerClient, "POST", "/api/v1/export", """{"measurement": "main.readings", "format": "jsonl", "from": "2026-01-01", "where": "device = 'd1'"}""", null))
        {
            Assert.Equal(HttpStatusCode.OK, exported.StatusCode);
            Assert.Contains("20.5", await exported.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var refused = await SendAsync(readerClient, "POST", "/api/v1/export", """{"measurement": "main.nothing_here"}""", null))
        {
            Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
        }

        var rows = await server.RowsAsync("SELECT principal, action, target_kind, target_id, outcome, status, detail FROM main.audit_log ORDER BY id");
        Assert.Equal(3, rows.Count);
        Assert.Equal("admin import namespace main.readings ok 200", Row(rows[0]));
        Assert.Equal("1 of 2 rows written, 1 refused", rows[0][6].GetString());
        Assert.Equal("analyst export measurement main.readings ok 200", Row(rows[1]));
        Assert.Equal("jsonl, from 2026-01-01 to the end, where device = 'd1'", rows[1][6].GetString());
        Assert.Equal("analyst export measurement main.nothing_here not_found 404", Row(rows[2]));

        static string Row(List<JsonElement> row) => string.Join(' ', row.Take(6).Select(cell => cell.ToString()));
    }

    [Fact]
    public async Task The_audit_endpoint_lists_entries_in_order_and_since_a_time()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
        await using var server = await PlexusTestServer.StartAsync(time: time);
        (await server.Client.PostAsJsonAsync("/api/v1/devices", new { id = "a" })).Dispose();
        time.Advance(TimeSpan.FromMinutes(5));
        (await server.Client.PostAsJsonAsync("/api/v1/devices", new { id = "b" })).Dispose();
        (await server.Client.DeleteAsync("/api/v1/devices/a")).Dispose();

        var all = await EntriesAsync(server, "/api/v1/audit");
        var latest = await EntriesAsync(server, "/api/v1/audit?limit=1");
        var since = await EntriesAsync(server, "/api/v1/audit?since=2026-03-01T12:05:00Z");

        Assert.Equal(["device.add a", "device.add b", "device.remove a"], all.Select(e => e.GetProperty("action").GetString() + " " + e.GetProperty("target_id").GetString()));
        Assert.Equal("2026-03-01T12:00:00Z", all[0].GetProperty("time").GetString());
        Assert.Equal("device.remove", Assert.Single(latest).GetProperty("action").GetString());
        Assert.Equal(["b", "a"], since.Select(e => e.GetProperty("target_id").GetString()));
        using var bad = await server.Client.GetAsync("/api/v1/audit?since=yesterday");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        string readToken = server.Server.ApiTokens.Create("viewer", Api.Auth.ApiScope.Read).Token;
        using var viewer = server.ClientWithToken(readToken);
        using var forbidden = await viewer.GetAsync("/api/v1/audit");
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
    }

    [Fact]
    public async Task The_audit_log_survives_a_restart_and_its_view_name_is_reserved()
    {
        using var data = new TempDirectory("plexus-audit");
        await using (var first = await PlexusTestServer.StartAsync(data.Path))
        {
            (await first.Client.PostAsJsonAsync("/api/v1/devices", new { id = "kept" })).Dispose();
        }

        await using var server = await PlexusTestServer.StartAsync(data.Path);
        var rows = await server.RowsAsync("SELECT action, target_id FROM audit_log");
        Assert.Equal(["device.add", "kept"], rows.Single().Select(v => v.GetString()));

        using var write = await server.WriteAsync("audit_log,principal=me action=\"forged\" 1");
        Assert.Equal(HttpStatusCode.BadRequest, write.StatusCode);
        Assert.Contains("reserved for the audit log", await write.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Single(await server.RowsAsync("SELECT * FROM main.audit_log"));
    }

    [Fact]
    public async Task An_auto_provisioned_device_is_recorded_as_its_own_principal()
    {
        const string Key = "fleet-provisioning-key-0123456789";
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { ProvisioningKey = Key });
        using var mqtt = new MqttClientFactory().CreateMqttClient();

        var connected = await mqtt.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", server.MqttEndpoint!.Port).WithCredentials("sensor-9", Key).Build());

        Assert.Equal(MqttClientConnectResultCode.Success, connected.ResultCode);
        var rows = await server.RowsAsync("SELECT principal, action, target_id, outcome, status FROM main.audit_log");
        var row = Assert.Single(rows);
        Assert.Equal(["device:sensor-9", "device.provision", "sensor-9", "ok"], row.Take(4).Select(v => v.GetString()));
        Assert.Equal(JsonValueKind.Null, row[4].ValueKind);
    }

    private static async Task<List<JsonElement>> EntriesAsync(PlexusTestServer server, string path)
    {
        using var response = await server.Client.GetAsync(path);
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        return [.. JsonDocument.Parse(body).RootElement.GetProperty("entries").EnumerateArray().Select(e => e.Clone())];
    }

    private static Task<HttpResponseMessage> SendAsync(HttpClient client, string method, string path, string? body, string? contentType)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, contentType ?? "application/json");
        }

        return client.SendAsync(request);
    }
}
