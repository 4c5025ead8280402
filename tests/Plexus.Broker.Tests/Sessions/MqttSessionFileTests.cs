using System.Buffers;
using Microsoft.Extensions.Logging;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using Plexus.Broker.Auth;
using Plexus.Broker.Sessions;
using Plexus.Core;
using Plexus.TestKit;

namespace Plexus.Broker.Tests.Sessions;

/// <summary>The persistent-session file: every field round-trips, and damage anywhere is skipped, never fatal.</summary>
public sealed class MqttSessionFileTests
{
    private static readonly DateTimeOffset LeftAt = DateTimeOffset.FromUnixTimeMilliseconds(1_760_000_000_123);

    [Fact]
    public void Every_field_of_a_session_and_its_messages_round_trips()
    {
        using var folder = new TempDirectory("plexus-session-file");
        var file = new MqttSessionFile(folder.Path, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        var sessions = Sample();
        file.Write(MqttSessionFile.Encode(sessions, long.MaxValue).Contents);

        var read = file.Read();

        Assert.Equal(2, read.Count);
        var dashboard = read[0];
        Assert.Equal("dash", dashboard.ClientId);
        Assert.Equal(MqttPrincipalKind.Application, dashboard.Owner.Kind);
        Assert.Equal("dashboard", dashboard.Owner.TokenName);
        Assert.Equal(MqttApplicationScope.Read, dashboard.Owner.Scope);
        Assert.Equal(["main", "plant"], dashboard.Owner.Namespaces!);
        Assert.Equal(["alerts/#"], dashboard.Owner.TopicRules!.Subscribe);
        Assert.Equal(["alerts/secret"], dashboard.Owner.TopicRules!.DenySubscribe);
        Assert.Equal(3600u, dashboard.ExpiryInterval);
        Assert.Equal(LeftAt, dashboard.LeftAt);
        Assert.Equal(sessions[0].Subscriptions, dashboard.Subscriptions);
        Assert.Equal(2, dashboard.Messages.Count);
        var full = dashboard.Messages[0].Packet;
        Assert.Equal("alerts/1", full.Topic);
        Assert.Equal("payload"u8.ToArray(), full.Payload.ToArray());
        Assert.Equal(MqttQualityOfServiceLevel.ExactlyOnce, full.QualityOfServiceLevel);
        Assert.True(full.Retain);
        Assert.Equal("text/plain", full.ContentType);
        Assert.Equal("reply/here", full.ResponseTopic);
        Assert.Equal([1, 2, 3], full.CorrelationData);
        Assert.Equal(MqttPayloadFormatIndicator.CharacterData, full.PayloadFormatIndicator);
        Assert.Equal(60u, full.MessageExpiryInterval);
        Assert.Equal(LeftAt.AddSeconds(60), dashboard.Messages[0].ExpiresAt);
        Assert.Equal([7u, 9u], full.SubscriptionIdentifiers);
        Assert.Equal("v", full.UserProperties.Single().ReadValueAsString());
        Assert.Null(dashboard.Messages[1].ExpiresAt);
        Assert.Empty(dashboard.Messages[1].Packet.Payload.ToArray());

        var device = read[1];
        Assert.Equal(MqttPrincipalKind.Device, device.Owner.Kind);
        Assert.Equal("d1", device.Owner.DeviceId);
        Assert.Null(device.Owner.Namespaces);
        Assert.Empty(device.Messages);
    }

    [Fact]
    public void A_file_cut_at_any_byte_reads_the_whole_records_before_the_cut_with_at_most_one_warning()
    {
        using var folder = new TempDirectory("plexus-session-file");
        byte[] whole = MqttSessionFile.Encode(Sample(), long.MaxValue).Contents;
        for (int length = 0; length < whole.Length; length++)
        {
            var logs = new CollectingLoggerProvider();
            var file = new MqttSessionFile(folder.Path, logs.CreateLogger("test"));
            File.WriteAllBytes(file.Path, whole[..length]);

            var read = file.Read();

            // A cut between two records leaves a shorter valid file; a cut inside one is damage, warned about once.
            Assert.True(read.Count < 2, $"a file cut at byte {length} read as whole");
            Assert.True(logs.Entries.Count(e => e.Level == LogLevel.Warning) <= 1);
            Assert.All(read.Take(read.Count - 1), s => Assert.Equal(Sample().Single(x => x.ClientId == s.ClientId).Messages.Count, s.Messages.Count));
        }
    }

    [Fact]
    public void A_flipped_byte_anywhere_stops_the_reading_there_and_never_throws()
    {
        using var folder = new TempDirectory("plexus-session-file");
        byte[] whole = MqttSessionFile.Encode(Sample(), long.MaxValue).Contents;
        for (int at = 0; at < whole.Length; at++)
        {
            var logs = new CollectingLoggerProvider();
            var file = new MqttSessionFile(folder.Path, logs.CreateLogger("test"));
            byte[] damaged = [.. whole];
            damaged[at] ^= 0x5A;
            File.WriteAllBytes(file.Path, damaged);

            var read = file.Read();

            Assert.True(read.Count < 2, $"damage at byte {at} went unnoticed");
            Assert.Single(logs.Entries, e => e.Level == LogLevel.Warning);
        }
    }

    [Fact]
    public void Sessions_and_messages_over_the_byte_limit_are_left_out_and_counted()
    {
        var sessions = Sample();
        byte[] whole = MqttSessionFile.Encode(sessions, long.MaxValue).Contents;

        var (contents, sessionsLeftOut, messagesLeftOut) = MqttSessionFile.Encode(sessions, whole.Length - 1);

        Assert.True(contents.Length <= whole.Length - 1);
        Assert.True(sessionsLeftOut + messagesLeftOut > 0);
        Assert.Equal(MqttSessionFile.HeaderSize, MqttSessionFile.Encode(sessions, MqttSessionFile.HeaderSize).Contents.Length);
        Assert.Equal(2, MqttSessionFile.Encode(sessions, MqttSessionFile.HeaderSize).SessionsLeftOut);
    }

    private static List<PersistedSession> Sample()
    {
        var owner = MqttPrincipal.Application("dashboard", MqttApplicationScope.Read, ["main", "plant"], MqttTopicRules.Create(["alerts/#"], [], ["alerts/secret"], []));
        var full = new MqttPublishPacket
        {
            Topic = "alerts/1",
            Payload = new ReadOnlySequence<byte>("payload"u8.ToArray()),
            QualityOfServiceLevel = MqttQualityOfServiceLevel.ExactlyOnce,
            Retain = true,
            ContentType = "text/plain",
            ResponseTopic = "reply/here",
            CorrelationData = [1, 2, 3],
            PayloadFormatIndicator = MqttPayloadFormatIndicator.CharacterData,
            MessageExpiryInterval = 60,
            SubscriptionIdentifiers = [7, 9],
            UserProperties = [new MqttUserProperty("k", "v"u8.ToArray())],
        };
        var bare = new MqttPublishPacket { Topic = "alerts/2", QualityOfServiceLevel = MqttQualityOfServiceLevel.AtLeastOnce };
        return
        [
            new PersistedSession("dash", owner, 3600, LeftAt,
                [new PersistedSubscription("alerts/#", MqttQualityOfServiceLevel.ExactlyOnce, true, true, MqttRetainHandling.DoNotSendOnSubscribe, 7),
                 new PersistedSubscription("plant/+", MqttQualityOfServiceLevel.AtMostOnce, false, false, MqttRetainHandling.SendAtSubscribe, 0)],
                [new PersistedMessage(full, LeftAt.AddSeconds(60)), new PersistedMessage(bare, null)]),
            new PersistedSession("d1-client", MqttPrincipal.Device("d1"), 86400, LeftAt, [], []),
        ];
    }
}
