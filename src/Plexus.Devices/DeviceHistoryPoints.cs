using System.Buffers;
using System.Text;
using Plexus.Core;
using Plexus.Storage;

namespace Plexus.Devices;

/// <summary>
/// The rows the live state writes through the store: <c>state_history</c> (reported properties and connectivity) and
/// <c>dead_letters</c> (messages that did not decode or were refused). Their columns are described in
/// <see cref="DeviceDataNames"/>.
/// </summary>
internal static class DeviceHistoryPoints
{
    /// <summary>Dead-letter payloads are kept up to this many bytes (as text).</summary>
    public const int MaxDeadLetterPayloadBytes = 1024;

    private const int MaxReasonChars = 1024;

    /// <summary>
    /// The store creates a measurement with its first row, so on a new database <c>state_history</c> and
    /// <c>dead_letters</c> would not exist until a device first reported state or sent a bad message, and the query a
    /// reader runs first (<c>SELECT * FROM dead_letters</c>) would fail. An empty view with their documented columns
    /// answers until then; the store's first write of the measurement replaces it with its own view
    /// (<c>CREATE OR REPLACE VIEW</c>), and an existing view, the measurement's or this one, is left alone.
    /// </summary>
    public static void CreateEmptyViews(MetadataConnection connection)
    {
        connection.Execute(EmptyView(DeviceDataNames.StateHistory, "NULL::VARCHAR AS device, NULL::VARCHAR AS property, NULL::VARCHAR AS value, NULL::DOUBLE AS value_num, NULL::VARCHAR AS reason"));
        connection.Execute(EmptyView(DeviceDataNames.DeadLetters, "NULL::VARCHAR AS device, NULL::VARCHAR AS topic, NULL::VARCHAR AS reason, NULL::VARCHAR AS payload, NULL::VARCHAR AS content_type"));
    }

    private static string EmptyView(string measurement, string columns) =>
        $"CREATE VIEW IF NOT EXISTS {DeviceDataNames.Namespace}.{measurement} AS SELECT NULL::TIMESTAMP_NS AS time, {columns} WHERE false";

    public static void AddStateHistory(PointBatch batch, string device, string property, string value, double? number, string? reason, long time)
    {
        batch.BeginPoint(Encoding.UTF8.GetBytes(DeviceDataNames.StateHistory), 1);
        AddTag(batch, "device", device);
        AddTag(batch, "property", property);
        AddString(batch, "value", value);
        if (number is { } n)
        {
            batch.AddFloat(batch.AppendText("value_num"u8), n);
        }

        if (reason is not null)
        {
            AddString(batch, "reason", reason);
        }

        batch.EndPoint(time);
    }

    public static void AddDeadLetter(PointBatch batch, string device, string topic, string reason, ReadOnlySequence<byte> payload, string? contentType, long time)
    {
        batch.BeginPoint(Encoding.UTF8.GetBytes(DeviceDataNames.DeadLetters), 1);
        AddTag(batch, "device", device);
        AddString(batch, "topic", topic);
        AddString(batch, "reason", reason.Length > MaxReasonChars ? reason[..MaxReasonChars] + "…" : reason);
        AddString(batch, "payload", PayloadText(payload));
        AddString(batch, "content_type", contentType ?? string.Empty);
        batch.EndPoint(time);
    }

    /// <summary>The first bytes of the payload as text: invalid UTF-8 becomes U+FFFD, control characters '?'.</summary>
    private static string PayloadText(ReadOnlySequence<byte> payload)
    {
        int length = (int)Math.Min(payload.Length, MaxDeadLetterPayloadBytes);
        byte[] bytes = payload.Slice(0, length).ToArray();
        var text = new StringBuilder(Encoding.UTF8.GetString(bytes));
        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsControl(text[i]) && text[i] is not ('\n' or '\r' or '\t'))
            {
                text[i] = '?';
            }
        }

        if (payload.Length > length)
        {
            text.Append('…');
        }

        return text.ToString();
    }

    private static void AddTag(PointBatch batch, string key, string value) =>
        batch.AddTag(batch.AppendText(Encoding.UTF8.GetBytes(key)), batch.AppendText(Encoding.UTF8.GetBytes(value)));

    private static void AddString(PointBatch batch, string key, string value) =>
        batch.AddString(batch.AppendText(Encoding.UTF8.GetBytes(key)), batch.AppendText(Encoding.UTF8.GetBytes(value)));
}
