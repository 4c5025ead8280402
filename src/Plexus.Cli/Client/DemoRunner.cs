using System.Net;
using System.Text;
using System.Text.Json;
using Plexus.Core;
using Plexus.Simulator.Demo;

namespace Plexus.Cli.Client;

/// <summary>
/// Puts the <see cref="DemoFleet"/> on a server the way a real deployment would: assets, devices and geofences through
/// the HTTP API (tagged <c>demo=true</c>), then every device on its own MQTT connection with its own device token,
/// publishing telemetry, positions and state; a silent device disconnects and shows as offline. <see cref="RemoveAsync"/>
/// takes the registry entries away again (the data the devices sent stays, as for any removed device).
/// </summary>
internal sealed class DemoRunner(PlexusApiClient client, string mqttHost, int mqttPort, TextWriter log, TimeProvider time)
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(2);

    private readonly Dictionary<string, string> _tokens = new(StringComparer.Ordinal);
    private readonly Dictionary<string, MqttPublisher> _connections = new(StringComparer.Ordinal);

    /// <summary>Messages the broker acknowledged, for the summary and the tests.</summary>
    public long Published { get; private set; }

    /// <summary>Registers the demo's assets, devices (keeping each one's token) and geofences; safe to run again.</summary>
    public async Task RegisterAsync(CancellationToken cancellationToken)
    {
        foreach (var asset in DemoFleet.Assets)
        {
            using var created = await SendAsync(HttpMethod.Post, "/api/v1/assets", EntryJson(asset), cancellationToken);
            await EnsureAsync(created, $"asset {asset.Id}", HttpStatusCode.Created, HttpStatusCode.Conflict, cancellationToken);
        }

        foreach (var device in DemoFleet.Devices)
        {
            _tokens[device.Id] = await RegistryCalls.RegisterDeviceAsync(client, device.Id, EntryJson(device), Context, cancellationToken);
        }

        foreach (var fence in DemoFleet.Geofences)
        {
            using var put = await SendAsync(HttpMethod.Put, $"/api/v1/geofences/{fence.Name}", fence.Feature, cancellationToken, "application/geo+json");
            await EnsureAsync(put, $"geofence {fence.Name}", HttpStatusCode.Created, HttpStatusCode.OK, cancellationToken);
        }

        await log.WriteLineAsync($"demo: registered {DemoFleet.Assets.Count} assets, {DemoFleet.Devices.Count} devices and {DemoFleet.Geofences.Count} geofences (tag demo=true); publishing over MQTT at {mqttHost}:{mqttPort}");
    }

    /// <summary>Publishes a tick every <paramref name="interval"/> until cancelled; devices reconnect after a silence or a lost connection.</summary>
    public async Task RunAsync(TimeSpan interval, ulong seed, CancellationToken cancellationToken)
    {
        var fleet = new DemoFleet(seed);
        var messages = new List<DemoMessage>();
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                messages.Clear();
                fleet.Tick(time.GetUtcNow(), messages);
                foreach (var device in DemoFleet.Devices)
                {
                    if (fleet.IsSilent(device.Id))
                    {
                        await DisconnectAsync(device.Id);
                    }
                }

                foreach (var message in messages)
                {
                    await PublishAsync(message, cancellationToken);
                }

                await Task.Delay(interval, time, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            foreach (string device in _connections.Keys.ToList())
            {
                await DisconnectAsync(device);
            }
        }
    }

    /// <summary>
    /// <c>plexus serve --demo</c>: runs the demo against the server in this process, over its own HTTP and MQTT ports,
    /// with an admin API token named <see cref="TokenName"/> made for it (the admin token itself may be known only
    /// by its hash). Completes when cancelled; a failure is logged and ends the demo, not the server.
    /// </summary>
    public static async Task RunInProcessAsync(Plexus.Server.PlexusServer server, TextWriter log, TimeSpan interval, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(server);
        if (server.MqttEndpoint is not { } mqtt)
        {
            await log.WriteLineAsync("demo: not started: the demo devices publish over MQTT, which --mqtt off turns off");
            return;
        }

        server.ApiTokens.Revoke(TokenName);
        var token = server.ApiTokens.Create(TokenName, Plexus.Api.Auth.ApiScope.Admin);
        using var client = PlexusApiClient.Create(server.HttpAddress.ToString(), token.Token);
        var runner = new DemoRunner(client, mqtt.Address.ToString(), mqtt.Port, log, TimeProvider.System);
        try
        {
            await runner.RegisterAsync(cancellationToken);
            await runner.RunAsync(interval, seed: 1, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception error)
        {
            // The server goes on without its demo; what stopped the demo is said once, with what to do.
            await log.WriteLineAsync($"demo: stopped: {error.Message} (the server runs on; plexus demo restarts the fleet)");
        }
    }

    // Where the demo's devices' messages are stored: telemetry, positions, reported state and refused messages.
    private static readonly string[] DemoMeasurements = ["telemetry", "positions", "state_history", "dead_letters"];

    /// <summary>The API token <c>plexus serve --demo</c> makes for its demo (replaced at every start).</summary>
    public const string TokenName = "plexus-demo";

    /// <summary>
    /// Removes every device and asset tagged <c>demo=true</c> and the demo's geofences and, unless <paramref name="keepData"/>,
    /// the rows its devices sent (through the server's one delete: DELETE /api/v1/measurements/main.{measurement}?where=device IN (...)).
    /// </summary>
    public static async Task<int> RemoveAsync(PlexusApiClient client, TextWriter output, CancellationToken cancellationToken, bool keepData = false)
    {
        int removed = 0;
        long rows = 0;
        if (!keepData)
        {
            string devices = string.Join(", ", DemoFleet.Devices.Select(d => "'" + d.Id + "'"));
            foreach (string measurement in DemoMeasurements)
            {
                string where = Uri.EscapeDataString($"device IN ({devices})");
                using var deleted = await SendAsync(client, HttpMethod.Delete, $"/api/v1/measurements/main.{measurement}?where={where}", null, cancellationToken);

                // A measurement the demo never wrote to (it ran without positions, say) has nothing to delete.
                await EnsureAsync(client, deleted, $"the demo's rows of main.{measurement}", [HttpStatusCode.OK, HttpStatusCode.NotFound], cancellationToken);
                if (deleted.StatusCode == HttpStatusCode.OK)
                {
                    using var answer = JsonDocument.Parse(await deleted.Content.ReadAsStringAsync(cancellationToken));
                    rows += answer.RootElement.GetProperty("rows_deleted").GetInt64();
                }
            }
        }

        foreach (string kind in new[] { "devices", "assets" })
        {
            using var listed = await SendAsync(client, HttpMethod.Get, $"/api/v1/{kind}?tag={DemoFleet.TagKey}:{DemoFleet.TagValue}&limit=10000", null, cancellationToken);
            await EnsureAsync(client, listed, kind, [HttpStatusCode.OK], cancellationToken);
            using var document = JsonDocument.Parse(await listed.Content.ReadAsStringAsync(cancellationToken));

            // An asset's children go first, so that no removal needs a cascade that could reach beyond the demo.
            var ids = document.RootElement.GetProperty(kind).EnumerateArray().Select(e => e.GetProperty("id").GetString()!).ToList();
            var order = DemoFleet.Assets.Select(a => a.Id).Reverse().ToList();
            ids.Sort((a, b) => order.IndexOf(a).CompareTo(order.IndexOf(b)));
            foreach (string id in ids)
            {
                string cascade = kind == "assets" ? "?cascade=detach" : "";
                using var deleted = await SendAsync(client, HttpMethod.Delete, $"/api/v1/{kind}/{id}{cascade}", null, cancellationToken);
                await EnsureAsync(client, deleted, id, [HttpStatusCode.NoContent, HttpStatusCode.NotFound], cancellationToken);
                removed++;
            }
        }

        foreach (var fence in DemoFleet.Geofences)
        {
            using var deleted = await SendAsync(client, HttpMethod.Delete, $"/api/v1/geofences/{fence.Name}", null, cancellationToken);
            await EnsureAsync(client, deleted, fence.Name, [HttpStatusCode.NoContent, HttpStatusCode.NotFound], cancellationToken);
            removed += deleted.StatusCode == HttpStatusCode.NoContent ? 1 : 0;
        }

        // The admin token serve --demo made for itself is no longer needed once its fleet is gone.
        using (var revoked = await SendAsync(client, HttpMethod.Delete, $"/api/v1/tokens/{TokenName}", null, cancellationToken))
        {
            await EnsureAsync(client, revoked, $"token {TokenName}", [HttpStatusCode.NoContent, HttpStatusCode.NotFound], cancellationToken);
        }

        await output.WriteLineAsync(keepData
            ? $"demo: removed {removed} devices, assets and geofences tagged demo=true (the data they sent stays in main)"
            : $"demo: removed {removed} devices, assets and geofences tagged demo=true and the {rows} rows they sent");
        return removed;
    }

    private async Task PublishAsync(DemoMessage message, CancellationToken cancellationToken)
    {
        try
        {
            if (!_connections.TryGetValue(message.Device, out var connection) || !connection.IsConnected)
            {
                await DisconnectAsync(message.Device);
                connection = await MqttPublisher.ConnectAsync(mqttHost, mqttPort, message.Device, message.Device, _tokens[message.Device], cancellationToken);
                _connections[message.Device] = connection;
            }

            await connection.PublishAsync(message.FullTopic, message.Payload, cancellationToken);
            Published++;
        }
        catch (MqttPublishException error)
        {
            // A device that cannot get through tries again next tick, as a real one would; the demo goes on.
            await log.WriteLineAsync($"demo: {message.Device}: {error.Message}");
            await DisconnectAsync(message.Device);
        }
    }

    private async Task DisconnectAsync(string device)
    {
        if (_connections.Remove(device, out var connection))
        {
            await connection.DisposeAsync();
        }
    }

    private static string EntryJson(DemoEntry entry)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, ReadableJson.Options))
        {
            json.WriteStartObject();
            json.WriteString("id", entry.Id);
            json.WriteString("name", entry.Name);
            json.WriteString("type", entry.Type);
            json.WriteStartObject("tags");
            json.WriteString(DemoFleet.TagKey, DemoFleet.TagValue);
            json.WriteEndObject();
            if (entry.Parent is not null)
            {
                json.WriteString("parent", entry.Parent);
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private const string Context = "demo";

    private Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? body, CancellationToken cancellationToken, string contentType = "application/json") =>
        RegistryCalls.SendAsync(client, method, path, body, cancellationToken, contentType);

    private Task EnsureAsync(HttpResponseMessage response, string what, HttpStatusCode expected, HttpStatusCode alsoFine, CancellationToken cancellationToken) =>
        RegistryCalls.EnsureAsync(client, response, Context, what, [expected, alsoFine], cancellationToken);

    private static Task<HttpResponseMessage> SendAsync(PlexusApiClient client, HttpMethod method, string path, string? body, CancellationToken cancellationToken) =>
        RegistryCalls.SendAsync(client, method, path, body, cancellationToken);

    private static Task EnsureAsync(PlexusApiClient client, HttpResponseMessage response, string what, HttpStatusCode[] fine, CancellationToken cancellationToken) =>
        RegistryCalls.EnsureAsync(client, response, Context, what, fine, cancellationToken);
}
