using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Plexus.TestKit;

namespace Plexus.Broker.Tests;

/// <summary>Devices publish over MQTT; the data is in SQL with the device column, durable before the ack.</summary>
public sealed class BrokerTelemetryTests
{
    [Theory]
    [InlineData(MqttProtocolVersion.V311, MqttQualityOfServiceLevel.AtMostOnce)]
    [InlineData(MqttProtocolVersion.V311, MqttQualityOfServiceLevel.AtLeastOnce)]
    [InlineData(MqttProtocolVersion.V311, MqttQualityOfServiceLevel.ExactlyOnce)]
    [InlineData(MqttProtocolVersion.V500, MqttQualityOfServiceLevel.AtMostOnce)]
    [InlineData(MqttProtocolVersion.V500, MqttQualityOfServiceLevel.AtLeastOnce)]
    [InlineData(MqttProtocolVersion.V500, MqttQualityOfServiceLevel.ExactlyOnce)]
    public async Task Json_telemetry_is_stored_with_the_device_column(MqttProtocolVersion version, MqttQualityOfServiceLevel qos)
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var device = await MqttTestClients.ConnectAsync(server, version);

        var result = await device.PublishAsync("devices/truck-7/telemetry", """{"temp": 21.5, "engine": {"rpm": 1800}, "ts": 1700000000000}""", qos);
        Assert.True(result.IsSuccess, $"publish result {result.ReasonCode}");

        const string Sql = "SELECT device, temp, engine_rpm, epoch_ms(time) FROM telemetry";
        if (qos == MqttQualityOfServiceLevel.AtMostOnce)
        {
            // No acknowledgement to wait for: poll until the table exists and holds the row.
            await Eventually.TrueAsync(
                async () => (await server.RowsAsync("SELECT count(*) FROM information_schema.tables WHERE table_name = 'telemetry'"))[0][0].GetInt64() == 1
                    && (await server.RowsAsync(Sql)).Count == 1,
                because: "the QoS 0 message is stored");
        }

        // QoS 1 and 2: queried at once, no waiting. The ack came after the commit, so the row is there.
        var row = Assert.Single(await server.RowsAsync(Sql));
        Assert.Equal("truck-7", row[0].GetString());
        Assert.Equal(21.5, row[1].GetDouble());
        Assert.Equal(1800, row[2].GetDouble());
        Assert.Equal(1_700_000_000_000, row[3].GetInt64());
    }

    [Fact]
    public async Task Named_measurement_senml_line_protocol_and_senml_content_type_are_stored()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var device = await MqttTestClients.ConnectAsync(server);

        Assert.True((await device.PublishAsync("devices/d1/telemetry/engine", """[{"rpm": 900, "ts": 1000}, {"rpm": 950, "ts": 2000}]""")).IsSuccess);
        Assert.True((await device.PublishAsync("devices/d1/senml", """[{"bn": "d1/", "bt": 1700000000, "n": "temp", "u": "Cel", "v": 22.5}, {"n": "hum", "v": 40}]""")).IsSuccess);
        Assert.True((await device.PublishAsync("devices/d1/lp", "env,room=kitchen temp=20.5,door=true 1700000000000000000\nenv,room=hall,device=spoofed temp=19 1700000000000000000\n")).IsSuccess);
        Assert.True((await device.PublishAsync("devices/d2/telemetry/air", """[{"n": "co2", "v": 415, "t": 1700000000}]""", contentType: "application/senml+json")).IsSuccess);

        Assert.Equal(
            [["d1", 1000L, 900.0], ["d1", 2000L, 950.0]],
            (await server.RowsAsync("SELECT device, epoch_ms(time), rpm FROM engine ORDER BY time")).Select(r => new object[] { r[0].GetString()!, r[1].GetInt64(), r[2].GetDouble() }));
        Assert.Equal(
            [["d1", 22.5, 40.0]],
            (await server.RowsAsync("SELECT device, temp, hum FROM senml")).Select(r => new object[] { r[0].GetString()!, r[1].GetDouble(), r[2].GetDouble() }));
        Assert.Equal(
            [["d1", "hall", 19.0], ["d1", "kitchen", 20.5]],
            (await server.RowsAsync("SELECT device, room, temp FROM env ORDER BY room")).Select(r => new object[] { r[0].GetString()!, r[1].GetString()!, r[2].GetDouble() }));
        Assert.Equal(
            [["d2", 415.0]],
            (await server.RowsAsync("SELECT device, co2 FROM air")).Select(r => new object[] { r[0].GetString()!, r[1].GetDouble() }));
    }

    [Fact]
    public async Task Bad_payload_gets_payload_format_invalid_and_the_connection_stays_up()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var device = await MqttTestClients.ConnectAsync(server);

        var bad = await device.PublishAsync("devices/d1/telemetry", """{"temp": [1, 2]}""");
        var badLp = await device.PublishAsync("devices/d1/lp", "env temp=1\nenv temp=\n");
        var good = await device.PublishAsync("devices/d1/telemetry", """{"temp": 20, "ts": 5000}""");

        Assert.Equal(MqttClientPublishReasonCode.PayloadFormatInvalid, bad.ReasonCode);
        Assert.Contains("arrays are not supported", bad.ReasonString, StringComparison.Ordinal);
        Assert.Equal(MqttClientPublishReasonCode.PayloadFormatInvalid, badLp.ReasonCode);
        Assert.True(good.IsSuccess);
        Assert.True(device.IsConnected);
        Assert.Equal([[5000L, 20.0]], (await server.RowsAsync("SELECT epoch_ms(time), temp FROM telemetry")).Select(r => new object[] { r[0].GetInt64(), r[1].GetDouble() }));
        Assert.Equal(0, (await server.RowsAsync("SELECT count(*) FROM information_schema.tables WHERE table_name = 'env'"))[0][0].GetInt64());
        Assert.Contains(server.Logs.Entries, e => e.Message.Contains("device d1, topic devices/d1/telemetry", StringComparison.Ordinal) && e.Message.Contains("arrays are not supported", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Points_all_refused_by_the_store_get_payload_format_invalid()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var device = await MqttTestClients.ConnectAsync(server);

        Assert.True((await device.PublishAsync("devices/d1/telemetry", """{"state": "on", "ts": 1000}""")).IsSuccess);
        var conflict = await device.PublishAsync("devices/d1/telemetry", """{"state": 1, "ts": 2000}""");

        Assert.Equal(MqttClientPublishReasonCode.PayloadFormatInvalid, conflict.ReasonCode);
        Assert.Contains("type conflict", conflict.ReasonString, StringComparison.Ordinal);
        Assert.True(device.IsConnected);
        Assert.Single(await server.RowsAsync("SELECT * FROM telemetry"));
    }

    [Fact]
    public async Task Many_devices_share_commits_and_lose_nothing()
    {
        await using var server = await PlexusTestServer.StartAsync();
        const int Devices = 20;
        const int MessagesEach = 25;
        var clients = await Task.WhenAll(Enumerable.Range(0, Devices).Select(_ => MqttTestClients.ConnectAsync(server, MqttProtocolVersion.V311)));
        long commitsBefore = server.Server.Store.Writer.Commits;

        await Task.WhenAll(clients.Select(async (client, d) =>
        {
            for (int m = 0; m < MessagesEach; m++)
            {
                var result = await client.PublishAsync($"devices/dev-{d}/telemetry", $$"""{"seq": {{m}}, "ts": {{1000 + m}}}""");
                Assert.True(result.IsSuccess);
            }
        }));

        Assert.Equal(Devices * MessagesEach, (await server.RowsAsync("SELECT count(*) FROM telemetry"))[0][0].GetInt64());
        Assert.Equal(Devices, (await server.RowsAsync("SELECT count(DISTINCT device) FROM telemetry"))[0][0].GetInt64());
        long commits = server.Server.Store.Writer.Commits - commitsBefore;
        Assert.True(commits < Devices * MessagesEach, $"{commits} commits for {Devices * MessagesEach} messages: concurrent devices should share commits");
        foreach (var client in clients)
        {
            client.Dispose();
        }
    }
}
