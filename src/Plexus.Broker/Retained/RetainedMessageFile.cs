using System.Buffers;
using System.Text.Json;
using MQTTnet;
using MQTTnet.Packets;
using MQTTnet.Protocol;

namespace Plexus.Broker.Retained;

/// <summary>
/// The retained messages, kept across restarts in one JSON file of the data folder (<see cref="FileName"/>).
/// Every change rewrites the whole file atomically: write a temporary file, flush it to disk, rename it over the
/// old one. A crash leaves either the old set or the new one, never a torn file.
/// </summary>
/// <remarks>
/// MQTTnet hands over the full retained set on every change (and serialises the calls), so a rewrite costs
/// O(retained messages) per retained publish. Retained messages are device state and configuration, published
/// rarely compared with telemetry; an append-only journal is the next step if a fleet retains at high rates.
/// </remarks>
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

    /// <summary>Replaces the stored set with <paramref name="messages"/>, durably, before returning.</summary>
    public void Save(IEnumerable<MqttApplicationMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        string temporary = Path + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            using (var writer = new Utf8JsonWriter(stream))
            {
                writer.WriteStartObject();
                writer.WriteNumber("version", FormatVersion);
                writer.WriteStartArray("messages");
                foreach (var message in messages)
                {
                    Write(writer, message);
                }

                writer.WriteEndArray();
                writer.WriteEndObject();
            }

            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, Path, overwrite: true);
    }

    private InvalidDataException Damaged(string detail, Exception? inner) =>
        new($"The retained-message file {Path} is damaged ({detail}); move it away to start without retained messages.", inner);

    private static void Write(Utf8JsonWriter writer, MqttApplicationMessage message)
    {
        writer.WriteStartObject();
        writer.WriteString("topic", message.Topic);
        writer.WriteNumber("qos", (int)message.QualityOfServiceLevel);
        writer.WriteBase64String("payload", message.Payload.ToArray());
        if (message.ContentType is not null)
        {
            writer.WriteString("content_type", message.ContentType);
        }

        if (message.PayloadFormatIndicator != MqttPayloadFormatIndicator.Unspecified)
        {
            writer.WriteNumber("payload_format", (int)message.PayloadFormatIndicator);
        }

        if (message.ResponseTopic is not null)
        {
            writer.WriteString("response_topic", message.ResponseTopic);
        }

        if (message.CorrelationData is { Length: > 0 } correlation)
        {
            writer.WriteBase64String("correlation_data", correlation);
        }

        if (message.UserProperties is { Count: > 0 } properties)
        {
            writer.WriteStartArray("user_properties");
            foreach (var property in properties)
            {
                writer.WriteStartArray();
                writer.WriteStringValue(property.Name);
                writer.WriteBase64StringValue(property.ValueBuffer.Span);
                writer.WriteEndArray();
            }

            writer.WriteEndArray();
        }

        writer.WriteEndObject();
    }

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
