using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Plexus.Broker.Retained;
using Plexus.Broker.Tests.Retained;
using Plexus.TestKit;

namespace Plexus.Broker.Tests;

/// <summary>Retained messages through the broker: their limits as a publisher sees them, and the upgrade from the JSON file.</summary>
public sealed class RetainedLimitTests
{
    [Fact]
    public async Task A_mqtt5_retained_publish_over_the_limit_gets_quota_exceeded_and_is_not_retained()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { MqttMaxRetainedMessagesPerClient = 2 });
        using var publisher = await MqttTestClients.ConnectAsync(server);

        await publisher.PublishAsync("r/1", "one", retain: true);
        await publisher.PublishAsync("r/2", "two", retain: true);
        var refused = await publisher.PublishAsync("r/3", "three", retain: true);
        var replaced = await publisher.PublishAsync("r/1", "uno", retain: true);

        Assert.Equal(MqttClientPublishReasonCode.QuotaExceeded, refused.ReasonCode);
        Assert.Contains("--mqtt-max-retained-messages-per-client", refused.ReasonString, StringComparison.Ordinal);
        Assert.True(replaced.IsSuccess);
        Assert.True(publisher.IsConnected);
        using var subscriber = await MqttTestClients.ConnectAsync(server);
        var received = await subscriber.SubscribeCollectingAsync("r/#");
        await publisher.PublishAsync("r/marker", "live");
        await Eventually.TrueAsync(() => MqttTestClients.Count(received) == 3);
        lock (received)
        {
            Assert.Equal(["r/1 uno", "r/2 two", "r/marker live"], received.Select(m => m.Topic + " " + MqttTestClients.Text(m)).Order(StringComparer.Ordinal));
        }

        Assert.Contains(server.Logs.Entries, e => e.Message.Contains("Retained MQTT message refused", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_mqtt311_retained_publish_over_the_limit_closes_the_connection_unacknowledged()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { MqttMaxRetainedMessages = 1 });
        using var publisher = await MqttTestClients.ConnectAsync(server, MqttProtocolVersion.V311);
        await publisher.PublishAsync("r/1", "one", retain: true);

        await Assert.ThrowsAnyAsync<Exception>(() => publisher.PublishAsync("r/2", "two", retain: true));

        await Eventually.TrueAsync(() => !publisher.IsConnected);
        using var subscriber = await MqttTestClients.ConnectAsync(server);
        var received = await subscriber.SubscribeCollectingAsync("r/#");
        await subscriber.PublishAsync("r/marker", "live");
        await Eventually.TrueAsync(() => MqttTestClients.Count(received) == 2);
        lock (received)
        {
            Assert.Equal(["r/1", "r/marker"], received.Select(m => m.Topic).Order(StringComparer.Ordinal));
        }
    }

    [Fact]
    public async Task Retained_messages_of_an_earlier_versions_json_file_are_served_after_the_upgrade()
    {
        using var folder = new TempDirectory();
        await File.WriteAllTextAsync(Path.Combine(folder.Path, RetainedMessageFile.FileName), RetainedMessageFileTests.TwoMessages);

        await using var server = await PlexusTestServer.StartAsync(folder.Path);
        using var subscriber = await MqttTestClients.ConnectAsync(server);
        var received = await subscriber.SubscribeCollectingAsync("site/#");

        await Eventually.TrueAsync(() => MqttTestClients.Count(received) == 1);
        Assert.Equal("open", MqttTestClients.Text(received[0]));
        Assert.False(File.Exists(Path.Combine(folder.Path, RetainedMessageFile.FileName)));
        Assert.True(File.Exists(Path.Combine(folder.Path, RetainedMessageJournal.FileName)));
    }
}
