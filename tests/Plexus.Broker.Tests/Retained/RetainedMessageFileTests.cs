using System.Buffers;
using System.Text;
using MQTTnet;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using Plexus.Broker.Retained;
using Plexus.TestKit;

namespace Plexus.Broker.Tests.Retained;

public sealed class RetainedMessageFileTests
{
    [Fact]
    public void Saved_messages_load_back_with_their_properties()
    {
        using var folder = new TempDirectory();
        var file = new RetainedMessageFile(folder.Path);
        var message = new MqttApplicationMessage
        {
            Topic = "devices/d1/config",
            Payload = new ReadOnlySequence<byte>([0, 1, 2, 255]),
            QualityOfServiceLevel = MqttQualityOfServiceLevel.ExactlyOnce,
            Retain = true,
            ContentType = "application/octet-stream",
            ResponseTopic = "devices/d1/ack",
            CorrelationData = [9, 8],
            UserProperties = [new MqttUserProperty("origin", new ReadOnlyMemory<byte>(Encoding.UTF8.GetBytes("console")))],
        };

        file.Save([message]);
        file.Save([message]);
        var loaded = Assert.Single(file.Load());

        Assert.Equal("devices/d1/config", loaded.Topic);
        Assert.Equal(new byte[] { 0, 1, 2, 255 }, loaded.Payload.ToArray());
        Assert.Equal(MqttQualityOfServiceLevel.ExactlyOnce, loaded.QualityOfServiceLevel);
        Assert.True(loaded.Retain);
        Assert.Equal("application/octet-stream", loaded.ContentType);
        Assert.Equal("devices/d1/ack", loaded.ResponseTopic);
        Assert.Equal(new byte[] { 9, 8 }, loaded.CorrelationData);
        Assert.Equal("console", Encoding.UTF8.GetString(Assert.Single(loaded.UserProperties).ValueBuffer.Span));
        Assert.False(File.Exists(file.Path + ".tmp"));
    }

    [Fact]
    public void Missing_file_is_an_empty_set()
    {
        using var folder = new TempDirectory();
        Assert.Empty(new RetainedMessageFile(folder.Path).Load());
    }

    [Theory]
    [InlineData("")]
    [InlineData("{\"version\":1,\"messages\":[{\"topic\":\"a\",\"qos\":1,\"payload\":\"AA")]
    [InlineData("{\"version\":1,\"messages\":[{\"topic\":\"a\",\"qos\":1,\"payload\":\"not base64!\"}]}")]
    [InlineData("{\"version\":1,\"messages\":[{\"qos\":1,\"payload\":\"AA==\"}]}")]
    [InlineData("{\"version\":2,\"messages\":[]}")]
    public void Damaged_file_is_refused_with_its_path_and_the_fix(string content)
    {
        using var folder = new TempDirectory();
        var file = new RetainedMessageFile(folder.Path);
        File.WriteAllText(file.Path, content);

        var error = Assert.Throws<InvalidDataException>(() => file.Load());

        Assert.Contains(file.Path, error.Message, StringComparison.Ordinal);
        Assert.Contains("move it away", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_truncation_of_a_saved_file_is_refused_not_misread()
    {
        using var folder = new TempDirectory();
        var file = new RetainedMessageFile(folder.Path);
        file.Save([new MqttApplicationMessage { Topic = "t/1", Payload = new ReadOnlySequence<byte>("on"u8.ToArray()), Retain = true }]);
        byte[] whole = File.ReadAllBytes(file.Path);
        for (int length = 0; length < whole.Length; length++)
        {
            File.WriteAllBytes(file.Path, whole[..length]);
            Assert.Throws<InvalidDataException>(() => file.Load());
        }
    }
}
