using System.Buffers;
using System.Text;
using MQTTnet;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using Plexus.Broker.Retained;
using Plexus.TestKit;

namespace Plexus.Broker.Tests.Retained;

/// <summary>The retained-message journal and its limits: restart, torn and corrupt records, compaction, migration.</summary>
public sealed class RetainedMessageStoreTests : IDisposable
{
    private static readonly RetainedLimits Roomy = new(1000, 10 << 20, 1000, 10 << 20);

    private readonly TempDirectory _folder = new();
    private readonly CollectingLoggerProvider _logs = new();

    public void Dispose() => _folder.Dispose();

    private RetainedMessageStore Open(RetainedLimits? limits = null) => new(_folder.Path, limits ?? Roomy, _logs.CreateLogger("test"));

    private static MqttApplicationMessage Message(string topic, string payload) =>
        new() { Topic = topic, Payload = new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(payload)), Retain = true, QualityOfServiceLevel = MqttQualityOfServiceLevel.AtLeastOnce };

    private static void Saved(RetainedChange change) => Assert.Equal(RetainedChangeStatus.Saved, change.Status);

    [Fact]
    public void Messages_with_their_properties_and_removals_survive_a_reopen()
    {
        using (var store = Open())
        {
            Assert.Empty(store.Load());
            var message = Message("devices/d1/config", "\u0000\u0001 bytes");
            message.QualityOfServiceLevel = MqttQualityOfServiceLevel.ExactlyOnce;
            message.ContentType = "application/octet-stream";
            message.ResponseTopic = "devices/d1/ack";
            message.CorrelationData = [9, 8];
            message.PayloadFormatIndicator = MqttPayloadFormatIndicator.CharacterData;
            message.UserProperties = [new MqttUserProperty("origin", new ReadOnlyMemory<byte>("console"u8.ToArray()))];
            Saved(store.Apply(message, "application:console"));
            Saved(store.Apply(Message("site/lamp", "on"), "device:d1"));
            Saved(store.Apply(Message("site/lamp", ""), "device:d1"));
        }

        using var reopened = Open();
        var loaded = Assert.Single(reopened.Load());
        Assert.Equal("devices/d1/config", loaded.Topic);
        Assert.Equal("\u0000\u0001 bytes", Encoding.UTF8.GetString(loaded.Payload));
        Assert.Equal(MqttQualityOfServiceLevel.ExactlyOnce, loaded.QualityOfServiceLevel);
        Assert.True(loaded.Retain);
        Assert.Equal("application/octet-stream", loaded.ContentType);
        Assert.Equal("devices/d1/ack", loaded.ResponseTopic);
        Assert.Equal(new byte[] { 9, 8 }, loaded.CorrelationData);
        Assert.Equal(MqttPayloadFormatIndicator.CharacterData, loaded.PayloadFormatIndicator);
        Assert.Equal("console", Encoding.UTF8.GetString(Assert.Single(loaded.UserProperties).ValueBuffer.Span));
        Assert.False(File.Exists(reopened.Path + ".tmp"));
    }

    [Fact]
    public void Every_torn_last_record_is_dropped_with_a_log_line_and_later_changes_follow_it()
    {
        long firstRecordEnd;
        using (var store = Open())
        {
            store.Load();
            Saved(store.Apply(Message("a", "first"), "device:d1"));
            firstRecordEnd = store.JournalBytes;
            Saved(store.Apply(Message("b", "second"), "device:d1"));
        }

        string path = Path.Combine(_folder.Path, RetainedMessageJournal.FileName);
        byte[] whole = File.ReadAllBytes(path);
        for (long length = firstRecordEnd + 1; length < whole.Length; length++)
        {
            File.WriteAllBytes(path, whole[..(int)length]);
            using var store = Open();

            Assert.Equal(["a"], store.Load().Select(m => m.Topic));
            Assert.Equal(firstRecordEnd, new FileInfo(path).Length);
        }

        Assert.Contains(_logs.Entries, e => e.Message.Contains($"dropped a torn last record at byte {firstRecordEnd}", StringComparison.Ordinal));
        using (var store = Open())
        {
            store.Load();
            Saved(store.Apply(Message("c", "third"), "device:d1"));
        }

        using var again = Open();
        Assert.Equal(["a", "c"], again.Load().Select(m => m.Topic).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_corrupt_record_in_the_middle_stops_the_load_with_the_path_and_offset()
    {
        using (var store = Open())
        {
            store.Load();
            Saved(store.Apply(Message("a", "first"), "device:d1"));
            Saved(store.Apply(Message("b", "second"), "device:d1"));
        }

        string path = Path.Combine(_folder.Path, RetainedMessageJournal.FileName);
        byte[] bytes = File.ReadAllBytes(path);
        bytes[RetainedMessageJournal.HeaderSize + RetainedMessageJournal.RecordHeaderSize + 3] ^= 0xFF;
        File.WriteAllBytes(path, bytes);

        using var damaged = Open();
        var error = Assert.Throws<InvalidDataException>(() => damaged.Load());

        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains($"at byte {RetainedMessageJournal.HeaderSize}", error.Message, StringComparison.Ordinal);
        Assert.Contains("Move it away", error.Message, StringComparison.Ordinal);
        Assert.Equal(bytes.Length, new FileInfo(path).Length);
    }

    [Fact]
    public void The_journal_is_compacted_once_it_is_twice_its_live_size()
    {
        string payload = new('x', 1000);
        using (var store = Open())
        {
            store.Load();
            long largest = 0;
            for (int i = 0; i < 300; i++)
            {
                Saved(store.Apply(Message("state/" + (i % 3), payload + i), "device:d1"));
                largest = Math.Max(largest, store.JournalBytes);
            }

            // 300 KB of changes, 3 KB live: bounded by the compaction floor (or twice the live size), not the history.
            Assert.InRange(largest, 0, RetainedMessageJournal.CompactionFloor + 2000);
            Assert.Equal(3, store.Count);
        }

        using var reopened = Open();
        Assert.Equal([payload + 297, payload + 298, payload + 299], reopened.Load().Select(m => Encoding.UTF8.GetString(m.Payload)).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void The_json_file_of_earlier_versions_is_migrated_once_and_removed()
    {
        string legacy = Path.Combine(_folder.Path, RetainedMessageFile.FileName);
        File.WriteAllText(legacy, RetainedMessageFileTests.TwoMessages);

        using (var store = Open())
        {
            Assert.Equal(["devices/d1/config", "site/gate"], store.Load().Select(m => m.Topic).Order(StringComparer.Ordinal));
        }

        Assert.False(File.Exists(legacy));
        Assert.Contains(_logs.Entries, e => e.Message.Contains("Migrated 2 retained MQTT messages", StringComparison.Ordinal));
        using var reopened = Open();
        Assert.Equal(2, reopened.Load().Count);
    }

    [Fact]
    public void Limits_refuse_growth_per_client_and_in_total_but_not_replacements_or_removals()
    {
        using var store = Open(new RetainedLimits(MaxMessages: 3, MaxBytes: 10 << 20, MaxMessagesPerClient: 2, MaxBytesPerClient: 10 << 20));
        store.Load();
        Saved(store.Apply(Message("d1/a", "1"), "device:d1"));
        Saved(store.Apply(Message("d1/b", "1"), "device:d1"));

        var perClient = store.Apply(Message("d1/c", "1"), "device:d1");
        Saved(store.Apply(Message("d1/a", "2"), "device:d1"));
        Saved(store.Apply(Message("d2/a", "1"), "device:d2"));
        var total = store.Apply(Message("d2/b", "1"), "device:d2");
        Saved(store.Apply(Message("d1/b", ""), "device:d1"));
        Saved(store.Apply(Message("d2/b", "1"), "device:d2"));

        Assert.Equal(RetainedChangeStatus.OverLimit, perClient.Status);
        Assert.Contains("--mqtt-max-retained-messages-per-client", perClient.Reason, StringComparison.Ordinal);
        Assert.Equal(RetainedChangeStatus.OverLimit, total.Status);
        Assert.Contains("--mqtt-max-retained-messages)", total.Reason, StringComparison.Ordinal);
        Assert.Equal(3, store.Count);
    }

    [Fact]
    public void Byte_limits_count_the_stored_record()
    {
        using var store = Open(new RetainedLimits(MaxMessages: 100, MaxBytes: 10 << 20, MaxMessagesPerClient: 100, MaxBytesPerClient: 300));
        store.Load();
        Saved(store.Apply(Message("d1/a", new string('x', 200)), "device:d1"));

        var refused = store.Apply(Message("d1/b", new string('x', 200)), "device:d1");

        Assert.Equal(RetainedChangeStatus.OverLimit, refused.Status);
        Assert.Contains("--mqtt-max-retained-bytes-per-client", refused.Reason, StringComparison.Ordinal);
        Saved(store.Apply(Message("d2/b", new string('x', 200)), "device:d2"));
    }
}
