using System.Buffers;
using System.Text.Json;
using MQTTnet;
using MQTTnet.Packets;
using MQTTnet.Protocol;

namespace Plexus.Broker.Retained;

/// <summary>
/// The retained-message file of earlier Plexus versions (<see cref="FileName"/>, JSON, rewritten whole on every
/// change). Only read now: <see cref="RetainedMessageJournal"/> takes its messages over once and deletes it.
/// </summary>
public sealed class RetainedMessageFile
{
    public const string FileName = "mqtt-retained.json";
    private const int FormatVersion = 1;

    public RetainedMessageFile(string dataDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataDirectory);
        Path = System.IO.Path.Combine(dataDirectory, FileName);
    }

    public string Path { get; }

    /// <summary>Reads the stored messages; none when the file does not exist.</summary>
    /// <exception cref="InvalidDataException">The file is damaged; the message names it and the fix.</exception>
    public List<MqttApplicationMessage> Load()
    {
        var messages = new List<MqttApplicationMessage>();
        if (!File.Exists(Path))
        {
            return messages;
        }

        byte[] bytes = File.ReadAllBytes(Path);
        try
        {
            using var document = JsonDocument.Parse(bytes);
            var root = document.RootElement;
            int version = root.GetProperty("version").GetInt32();
            if (version != FormatVersion)
            {
                throw Damaged($"format version {version} is not {FormatVersion}", null);
            }

            foreach (var item in root.GetProperty("messages").EnumerateArray())
            {
                messages.Add(Read(item));
            }
        }
        catch (Exception error) when (error is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw Damaged(error.Message, error);
        }

        return messages;
    }

    private InvalidDataException Damaged(string detail, Exception? inner) =>
        new($"The retained-message file {Path} is damaged ({detail}); move it away to start without retained messages.", inner);

    private static MqttApplicationMessage Read(JsonElement item)
    {
        var message = new MqttApplicationMessage
        {
            Topic = item.GetProperty("topic").GetString() ?? throw new FormatException("a message without a topic"),
            QualityOfServiceLevel = (MqttQualityOfServiceLevel)item.GetProperty("qos").GetInt32(),
            Payload = new ReadOnlySequence<byte>(item.GetProperty("payload").GetBytesFromBase64()),
            Retain = true,
        };
        if (item.TryGetProperty("content_type", out var contentType))
        {
            message.ContentType = contentType.GetString();
        }

        if (item.TryGetProperty("payload_format", out var format))
        {
            message.PayloadFormatIndicator = (MqttPayloadFormatIndicator)format.GetInt32();
        }

        if (item.TryGetProperty("response_topic", out var responseTopic))
        {
            message.ResponseTopic = responseTopic.GetString();
        }

        if (item.TryGetProperty("correlation_data", out var correlation))
        {
            message.CorrelationData = correlation.GetBytesFromBase64();
        }

        if (item.TryGetProperty("user_properties", out var properties))
        {
            message.UserProperties = [];
            foreach (var pair in properties.EnumerateArray())
            {
                message.UserProperties.Add(new MqttUserProperty(pair[0].GetString() ?? string.Empty, new ReadOnlyMemory<byte>(pair[1].GetBytesFromBase64())));
            }
        }

        return message;
    }
}
