using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using Plexus.Core;
using Plexus.Devices;
using Plexus.Ingest;
using Plexus.Ingest.Json;
using Plexus.Ingest.LineProtocol;
using Plexus.Ingest.SenML;
using Plexus.Storage.Writing;

namespace Plexus.Broker.Devices;

/// <summary>What became of one device message.</summary>
public enum DeviceIngestStatus
{
    /// <summary>Every point is durable.</summary>
    Stored,

    /// <summary>Some points are durable; the store refused the others (type conflicts); <see cref="DeviceIngestOutcome.Reason"/> names the first.</summary>
    PartlyStored,

    /// <summary>Nothing stored: the payload does not decode, or the store refused every point.</summary>
    Rejected,
}

public readonly record struct DeviceIngestOutcome(DeviceIngestStatus Status, int Written, int Refused, string? Reason);

/// <summary>
/// Decodes one device message by its topic and stores it, completing only once the points are durable. One
/// message is one unit for decoding: a payload with any undecodable part adds nothing (a device that resends a
/// rejected message never duplicates the part that was accepted). Batches are pooled: a message costs no batch
/// allocation once the pool is warm.
/// </summary>
public sealed class DeviceIngest
{
    public const string SenMlContentType = "application/senml+json";

    private const int MaxPooledBatches = 256;
    private const int MaxPooledTextBytes = 1 << 20;

    private static readonly byte[] DeviceKey = "device"u8.ToArray();

    private readonly IPointWriter _writer;
    private readonly string _namespace;
    private readonly TimeProvider _time;
    private readonly ConcurrentQueue<PointBatch> _batches = new();
    private readonly ConcurrentQueue<LineErrorSink> _sinks = new();
    private readonly DeviceLiveState? _state;

    /// <param name="state">The live state (last seen, positions, reported properties, dead letters); null stores
    /// data topics only and refuses <c>state</c> messages.</param>
    public DeviceIngest(IPointWriter writer, string ns, TimeProvider time, DeviceLiveState? state = null)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentException.ThrowIfNullOrEmpty(ns);
        ArgumentNullException.ThrowIfNull(time);
        _writer = writer;
        _namespace = ns;
        _time = time;
        _state = state;
    }

    /// <summary>
    /// Keeps a rejected message as a dead letter (row in <c>dead_letters</c>, counters). Never throws, so a failing
    /// dead-letter write cannot change what the publisher is answered nor break the connection.
    /// </summary>
    public Task RecordDeadLetterAsync(DeviceTopic topic, string topicName, ReadOnlySequence<byte> payload, string? contentType, string? reason) =>
        _state is null
            ? Task.CompletedTask
            : _state.RecordDeadLetterAsync(topic.DeviceId, topicName, reason ?? "rejected", payload, contentType);

    /// <summary>
    /// Decodes and stores one message. Completes after the commit that holds its points is synced; throws the
    /// store's exception when the commit fails (nothing of the message is stored then).
    /// </summary>
    public async Task<DeviceIngestOutcome> IngestAsync(DeviceTopic topic, ReadOnlySequence<byte> payload, string? contentType)
    {
        _state?.Touch(topic.DeviceId);
        if (topic.Kind == DeviceTopicKind.State)
        {
            return await IngestStateAsync(topic, payload);
        }

        PointBatch batch = RentBatch();
        try
        {
            long now = _time.GetUtcNow().ToUnixTimeMilliseconds() * 1_000_000;
            LocationFix newest = default;
            string? error = topic.Kind == DeviceTopicKind.Location
                ? DecodeLocation(topic.DeviceId, payload, now, batch, out newest)
                : Decode(topic, payload, contentType, now, batch);
            if (error is not null)
            {
                return new DeviceIngestOutcome(DeviceIngestStatus.Rejected, 0, 0, error);
            }

            if (batch.Count == 0)
            {
                return new DeviceIngestOutcome(DeviceIngestStatus.Rejected, 0, 0, "the message holds no points");
            }

            // Not cancellable on purpose: once queued, the write is committed or failed as a whole, and the
            // acknowledgement must follow that outcome, not the connection's.
            WriteResult result = await _writer.WriteAsync(_namespace, batch, CancellationToken.None);
            if (topic.Kind == DeviceTopicKind.Location && result.Rejected.Count == 0)
            {
                _state?.NotePosition(topic.DeviceId, newest.Lat, newest.Lon, newest.TimeNs);
            }

            if (result.Rejected.Count == 0)
            {
                return new DeviceIngestOutcome(DeviceIngestStatus.Stored, result.PointsWritten, 0, null);
            }

            var first = result.Rejected[0];
            string reason = result.Rejected.Count == 1 ? first.Reason : $"{result.Rejected.Count} points refused; first: {first.Reason}";
            return new DeviceIngestOutcome(
                result.PointsWritten == 0 ? DeviceIngestStatus.Rejected : DeviceIngestStatus.PartlyStored,
                result.PointsWritten,
                result.Rejected.Count,
                reason);
        }
        finally
        {
            ReturnBatch(batch);
        }
    }

    private async Task<DeviceIngestOutcome> IngestStateAsync(DeviceTopic topic, ReadOnlySequence<byte> payload)
    {
        if (_state is null)
        {
            return new DeviceIngestOutcome(DeviceIngestStatus.Rejected, 0, 0, "device state is not kept by this broker");
        }

        byte[] bytes = payload.ToArray();
        if (!StatePayload.TryParse(bytes, out var properties, out long? time, out string? error))
        {
            return new DeviceIngestOutcome(DeviceIngestStatus.Rejected, 0, 0, error);
        }

        StateChangeResult result = await _state.ApplyReportedAsync(topic.DeviceId, properties, time);
        return new DeviceIngestOutcome(DeviceIngestStatus.Stored, result.Changed, 0, null);
    }

    private static string? DecodeLocation(string deviceId, ReadOnlySequence<byte> payload, long now, PointBatch batch, out LocationFix newest)
    {
        byte[]? rented = null;
        try
        {
            ReadOnlySpan<byte> bytes;
            if (payload.IsSingleSegment)
            {
                bytes = payload.FirstSpan;
            }
            else
            {
                rented = ArrayPool<byte>.Shared.Rent(checked((int)payload.Length));
                payload.CopyTo(rented);
                bytes = rented.AsSpan(0, (int)payload.Length);
            }

            LocationDecoder.TryDecode(bytes, deviceId, now, batch, out newest, out string? error);
            return error;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private string? Decode(DeviceTopic topic, ReadOnlySequence<byte> payload, string? contentType, long now, PointBatch batch)
    {
        byte[]? rented = null;
        try
        {
            ReadOnlySpan<byte> bytes;
            if (payload.IsSingleSegment)
            {
                bytes = payload.FirstSpan;
            }
            else
            {
                rented = ArrayPool<byte>.Shared.Rent(checked((int)payload.Length));
                payload.CopyTo(rented);
                bytes = rented.AsSpan(0, (int)payload.Length);
            }

            return DecodeSpan(topic, bytes, contentType, now, batch);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private string? DecodeSpan(DeviceTopic topic, ReadOnlySpan<byte> payload, string? contentType, long now, PointBatch batch)
    {
        string? error;
        switch (topic.Kind)
        {
            case DeviceTopicKind.Telemetry when string.Equals(contentType, SenMlContentType, StringComparison.OrdinalIgnoreCase):
            case DeviceTopicKind.SenMl:
                SenMlDecoder.TryDecode(payload, new SenMlOptions(topic.Measurement, topic.DeviceId, now), batch, out error);
                return error;

            case DeviceTopicKind.Telemetry:
                JsonTelemetryDecoder.TryDecode(payload, new JsonTelemetryOptions(topic.Measurement, topic.DeviceId, now), batch, out error);
                return error;

            default:
                return DecodeLineProtocol(topic.DeviceId, payload, now, batch);
        }
    }

    /// <summary>
    /// Line protocol names its own measurements and tags, so the device tag is added afterwards: parse into a
    /// scratch batch, then copy every point into the target with <c>device=&lt;id&gt;</c>. A <c>device</c> tag in
    /// the line is replaced: the topic (and later the authenticated identity) says which device spoke. Copying
    /// appends into reused arrays and arena: no allocation per point once the pools are warm.
    /// </summary>
    private string? DecodeLineProtocol(string deviceId, ReadOnlySpan<byte> payload, long now, PointBatch batch)
    {
        if (deviceId.Length == 0 || deviceId.AsSpan().ContainsAnyInRange('\u0000', '\u001f') || deviceId.Contains('\u007f', StringComparison.Ordinal))
        {
            return $"device id \"{deviceId}\": ids cannot be empty or contain control characters";
        }

        PointBatch scratch = RentBatch();
        LineErrorSink errors = _sinks.TryDequeue(out var sink) ? sink : new LineErrorSink(capacity: 1);
        try
        {
            LineProtocolParser.Parse(payload, 1, new LineProtocolOptions(TimePrecision.Nanoseconds, now), scratch, errors);
            if (errors.Count > 0)
            {
                var first = errors.Errors[0];
                return errors.Count == 1
                    ? $"line {first.Line}: {first.Reason}"
                    : $"{errors.Count} lines rejected; first: line {first.Line}: {first.Reason}";
            }

            for (int i = 0; i < scratch.Count; i++)
            {
                ref readonly PointEntry point = ref scratch[i];
                batch.BeginPoint(scratch.Text(point.Measurement), point.LineNumber);
                foreach (TagEntry tag in scratch.Tags(point))
                {
                    ReadOnlySpan<byte> key = scratch.Text(tag.Key);
                    if (Ascii.EqualsIgnoreCase(key, DeviceKey))
                    {
                        continue;
                    }

                    batch.AddTag(batch.AppendText(key), batch.AppendText(scratch.Text(tag.Value)));
                }

                TextSlice deviceKey = batch.AppendText(DeviceKey);
                Span<byte> value = batch.ReserveText(Encoding.UTF8.GetMaxByteCount(deviceId.Length));
                batch.AddTag(deviceKey, batch.CommitText(Encoding.UTF8.GetBytes(deviceId, value)));
                foreach (FieldEntry field in scratch.Fields(point))
                {
                    TextSlice fieldKey = batch.AppendText(scratch.Text(field.Key));
                    switch (field.Type)
                    {
                        case FieldType.Float:
                            batch.AddFloat(fieldKey, field.FloatValue);
                            break;
                        case FieldType.Integer:
                            batch.AddInteger(fieldKey, field.IntegerValue);
                            break;
                        case FieldType.UInteger:
                            batch.AddUInteger(fieldKey, field.UIntegerValue);
                            break;
                        case FieldType.Boolean:
                            batch.AddBoolean(fieldKey, field.BooleanValue);
                            break;
                        default:
                            batch.AddString(fieldKey, batch.AppendText(scratch.Text(field.Text)));
                            break;
                    }
                }

                batch.EndPoint(point.Timestamp);
            }

            return null;
        }
        finally
        {
            errors.Reset();
            _sinks.Enqueue(errors);
            ReturnBatch(scratch);
        }
    }

    private PointBatch RentBatch() => _batches.TryDequeue(out var batch) ? batch : new PointBatch(pointCapacity: 16);

    private void ReturnBatch(PointBatch batch)
    {
        // A message of unusual size leaves a big arena behind; let the collector have it rather than pin it in the pool.
        if (batch.TextBytes > MaxPooledTextBytes || _batches.Count >= MaxPooledBatches)
        {
            return;
        }

        batch.Reset();
        _batches.Enqueue(batch);
    }
}
