using Plexus.Broker.Retained;
using Plexus.TestKit;

namespace Plexus.Broker.Tests.Retained;

/// <summary>The JSON file of earlier versions, read once for the migration to the journal.</summary>
public sealed class RetainedMessageFileTests
{
    internal const string TwoMessages = """
        {"version":1,"messages":[
          {"topic":"devices/d1/config","qos":2,"payload":"AAEC/w==","content_type":"application/octet-stream","response_topic":"devices/d1/ack","correlation_data":"CQg=","user_properties":[["origin","Y29uc29sZQ=="]]},
          {"topic":"site/gate","qos":1,"payload":"b3Blbg=="}]}
        """;

    [Fact]
    public void Legacy_file_loads_with_its_properties()
    {
        using var folder = new TempDirectory();
        var file = new RetainedMessageFile(folder.Path);
        File.WriteAllText(file.Path, TwoMessages);

        var loaded = file.Load();

        Assert.Equal(["devices/d1/config", "site/gate"], loaded.Select(m => m.Topic));
        Assert.Equal(new byte[] { 0, 1, 2, 255 }, System.Buffers.BuffersExtensions.ToArray(loaded[0].Payload));
        Assert.Equal("devices/d1/ack", loaded[0].ResponseTopic);
        Assert.Equal(new byte[] { 9, 8 }, loaded[0].CorrelationData);
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
    public void Every_truncation_of_a_legacy_file_is_refused_not_misread()
    {
        using var folder = new TempDirectory();
        var file = new RetainedMessageFile(folder.Path);
        byte[] whole = System.Text.Encoding.UTF8.GetBytes(TwoMessages.Trim());
        for (int length = 0; length < whole.Length; length++)
        {
            File.WriteAllBytes(file.Path, whole[..length]);
            Assert.Throws<InvalidDataException>(() => file.Load());
        }
    }
}
