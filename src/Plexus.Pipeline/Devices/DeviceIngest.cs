using System.Buffers;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Plexus.Core;
using Plexus.Devices;
using Plexus.Ingest;
using Plexus.Ingest.Json;
using Plexus.Ingest.LineProtocol;
using Plexus.Ingest.Location;
using Plexus.Ingest.SenML;
using Plexus.Ingest.State;
using Plexus.Storage;
using Plexus.Storage.Writing;

namespace Plexus.Pipeline.Devices;

/// <summary>What became of one device message.</summary>
public enum DeviceIngestStatus
{
    /// <summary>Every point is durable.</summary>
    Stored,

    /// <summary>Some points are durable; the store refused the others (type conflicts); <see cref="DeviceIngestOutcome.Reason"/> names the first.</summary>
    PartlyStored,

    /// <summary>Nothing stored: the payload does not decode, or the store refused every point.</summary>
    Rejected,

    /// <summary>Decoded and handed to the store, not yet committed (<see cref="DeviceIngest.QueueAsync"/>); the outcome is logged later.</summary>
    Queued,
}

public readonly record struct DeviceIngestOutcome(DeviceIngestStatus Status, int Written, int Refused, string? Reason);

/// <summary>
/// Decodes one device message by its topic and stores it, completing only once the points are durable. One
/// message is one unit for decoding: a payload with any undecodable part adds nothing (a device that resends a
/// rejected message never duplicates the part that was accepted). Batches are pooled: a message costs no batch
/// allocation once the pool is warm.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The queue's SemaphoreSlim never creates its wait handle, so it holds nothing to dispose.")]
public sealed partial class DeviceIngest
{
    public const string SenMlContentType = "application/senml+json";

    /// <summary>Messages queued by <see cref="QueueAsync"/> and not yet committed; beyond it a connection waits (back-pressure).</summary>
    public const int MaxQueuedMessages = 4096;

    private static readonly byte[] DeviceKey = "device"u8.ToArray();

    private readonly IPointWriter _writer;
    private readonly string _namespace;
    private readonly TimeProvider _time;
    // Under sustained QoS 0 load every queued message holds one (PointBatchPool.DefaultMaxBatches has room for them).
    private readonly PointBatchPool _batches = new(pointCapacity: 16);
    private readonly SemaphoreSlim _queueSlots = new(MaxQueuedMessages, MaxQueuedMessages);
    private readonly TaskCompletionSource _queueDrained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ILogger _logger;
    private int _queued;
    private int _draining;

    private readonly DeviceLiveState? _state;

    /// <param name="state">The live state (last seen, reported properties, dead letters, allow-lists; positions reach it
    /// through <see cref="Observers.LiveStateObserver"/>); null stores data topics only and refuses <c>state</c> messages.</param>
    public DeviceIngest(IPointWriter writer, string ns, TimeProvider time, DeviceLiveState? state = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentException.ThrowIfNullOrEmpty(ns);
        ArgumentNullException.ThrowIfNull(time);
        _writer = writer;
        _namespace = ns;
        _time = time;
        _state = state;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>
    /// For a message nobody acknowledges (QoS 0): decodes it now and hands its points to the store, completing as
    /// soon as they are queued instead of after their commit. The connection can then read the device's next
    /// message while this one waits, so a commit takes many messages of each device instead of one; for QoS 1/2 the
    /// acknowledgement must follow the commit and <see cref="IngestAsync"/> is the only way. A payload that does not
    /// decode is returned as <see cref="DeviceIngestStatus.Rejected"/> at once; what the store later refuses or
    /// fails is logged here (<paramref name="topicName"/> names the message). At most
    /// <see cref="MaxQueuedMessages"/> wait for a commit; beyond that the caller waits for a slot, which stops its
    /// connection reading, so a fast publisher is slowed by TCP rather than buffered without bound.
    /// </summary>
    public async Task<DeviceIngestOutcome> QueueAsync(DeviceTopic topic, ReadOnlySequence<byte> payload, string? contentType, string topicName)
    {
        await _queueSlots.WaitAsync();
        Interlocked.Increment(ref _queued);
        _state?.Touch(topic.DeviceId);
        PointBatch? batch = RentBatch();
        try
        {
            long now = _time.GetUtcNow().ToUnixTimeMilliseconds() * 1_000_000;
            string? error = Decode(topic, payload, contentType, now, batch);
            if (error is not null || batch.Count == 0)
            {
                return new DeviceIngestOutcome(DeviceIngestStatus.Rejected, 0, 0, error ?? "the message holds no points");
            }

            Task<WriteResult> write = _writer.WriteAsync(_namespace, batch, CancellationToken.None);
            _ = ReportQueuedAsync(write, batch, topic.DeviceId, topicName);
            batch = null;
            return new DeviceIngestOutcome(DeviceIngestStatus.Queued, 0, 0, null);
        }
        finally
        {
            if (batch is not null)
            {
                ReturnBatch(batch);
                LeaveQueue();
            }
        }
    }

    /// <summary>Completes once every message <see cref="QueueAsync"/> or <see cref="Commit"/> took is committed or failed; later messages are refused.</summary>
    public Task DrainQueueAsync()
    {
        Volatile.Write(ref _draining, 1);
        SignalIfDrained();

        return _queueDrained.Task;
    }

    private async Task ReportQueuedAsync(Task<WriteResult> write, PointBatch batch, string deviceId, string topicName)
    {
        try
        {
            WriteResult result = await write;
            if (result.Rejected.Count > 0)
            {
                var first = result.Rejected[0];
                string reason = result.Rejected.Count == 1 ? first.Reason : $"{result.Rejected.Count} points refused; first: {first.Reason}";
                QueuedLog.Refused(_logger, result.PointsWritten, result.Rejected.Count, deviceId, topicName, reason);
            }
        }
        catch (SchemaLimitException refusal)
        {
            QueuedLog.Refused(_logger, 0, batch.Count, deviceId, topicName, refusal.Message);
        }
        catch (Exception error)
        {
            QueuedLog.Failed(_logger, error, deviceId, topicName);
        }
        finally
        {
            ReturnBatch(batch);
            LeaveQueue();
        }
    }

    private void LeaveQueue()
    {
        _queueSlots.Release();
        if (Interlocked.Decrement(ref _queued) == 0)
        {
            SignalIfDrained();
        }
    }

    private static partial class QueuedLog
    {
        [LoggerMessage(40, LogLevel.Warning, "MQTT QoS 0 message refused by the store ({Written} points stored, {Refused} refused): device {DeviceId}, topic {Topic}: {Reason}")]
        public static partial void Refused(ILogger logger, int written, int refused, string deviceId, string topic, string reason);

        [LoggerMessage(41, LogLevel.Error, "MQTT QoS 0 message could not be stored (lost: QoS 0 is never resent): device {DeviceId}, topic {Topic}")]
        public static partial void Failed(ILogger logger, Exception error, string deviceId, string topic);
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
            string? error = topic.Kind == DeviceTopicKind.Location
                ? AllowListRefusal(topic.DeviceId, topic.Measurement) ?? DecodeLocation(topic.DeviceId, payload, now, batch)
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
            WriteResult result;
            try
            {
                result = await _writer.WriteAsync(_namespace, batch, CancellationToken.None);
            }
            catch (SchemaLimitException refusal)
            {
                // Refused before anything was stored: the publisher's fault, answered like a payload the store refuses.
                return new DeviceIngestOutcome(DeviceIngestStatus.Rejected, 0, batch.Count, refusal.Message);
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
        if (!StatePayload.TryDecode(bytes, out var properties, out long? time, out IngestError error))
        {
            return new DeviceIngestOutcome(DeviceIngestStatus.Rejected, 0, 0, error.ToString());
        }

        StateChangeResult result = await _state.ApplyReportedAsync(topic.DeviceId, ReportedProperties.From(properties), time);
        return new DeviceIngestOutcome(DeviceIngestStatus.Stored, result.Changed, 0, null);
    }

    private static string? DecodeLocation(string deviceId, ReadOnlySequence<byte> payload, long now, PointBatch batch)
    {
        byte[]? rented = null;
        try
        {
            ReadOnlySpan<byte> bytes = Contiguous(payload, out rented);
            return LocationDecoder.TryDecode(bytes, new LocationOptions(deviceId, now), batch, out IngestError error) ? null : error.ToString();
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
            ReadOnlySpan<byte> bytes = Contiguous(payload, out rented);
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

    /// <summary>The payload as one span: its only segment, or a copy into <paramref name="rented"/> (return it to the pool).</summary>
    private static ReadOnlySpan<byte> Contiguous(ReadOnlySequence<byte> payload, out byte[]? rented)
    {
        if (payload.IsSingleSegment)
        {
            rented = null;
            return payload.FirstSpan;
        }

        rented = ArrayPool<byte>.Shared.Rent(checked((int)payload.Length));
        payload.CopyTo(rented);
        return rented.AsSpan(0, (int)payload.Length);
    }

    private string? DecodeSpan(DeviceTopic topic, ReadOnlySpan<byte> payload, string? contentType, long now, PointBatch batch)
    {
        switch (topic.Kind)
        {
            case DeviceTopicKind.Telemetry when string.Equals(contentType, SenMlContentType, StringComparison.OrdinalIgnoreCase):
            case DeviceTopicKind.SenMl:
                if (AllowListRefusal(topic.DeviceId, topic.Measurement) is { } senMlRefusal)
                {
                    return senMlRefusal;
                }

                return SenMlDecoder.TryDecode(payload, new SenMlOptions(topic.Measurement, topic.DeviceId, now), batch, out IngestError senMlError) ? null : senMlError.ToString();

            case DeviceTopicKind.Telemetry:
                if (AllowListRefusal(topic.DeviceId, topic.Measurement) is { } telemetryRefusal)
                {
                    return telemetryRefusal;
                }

                return JsonTelemetryDecoder.TryDecode(payload, new JsonTelemetryOptions(topic.Measurement, topic.DeviceId, now), batch, out IngestError jsonError) ? null : jsonError.ToString();

            default:
                return DecodeLineProtocol(topic.DeviceId, payload, now, batch);
        }
    }

    /// <summary>
    /// The device's allow-list in the registry, if it has one (the default is none: one read per message). A message
    /// it refuses is refused whole before decoding, as an undecodable payload is: 0x99 with this reason, a dead letter.
    /// </summary>
    private MeasurementAllowList? AllowListOf(string deviceId) =>
        _state?.AllowLists is { } lists && lists.TryGet(deviceId, out var list) ? list : null;

    private string? AllowListRefusal(string deviceId, string measurement) =>
        AllowListOf(deviceId) is { } list && !list.Allows(measurement) ? list.Refusal(deviceId, measurement) : null;

    /// <summary>
    /// Line protocol names its own measurements and tags, so the device tag is added afterwards: parse into a
    /// scratch batch, then copy every point into the target with <c>device=&lt;id&gt;</c>. A <c>device</c> tag in
    /// the line is replaced: the topic (and later the authenticated identity) says which device spoke. Copying
    /// appends into reused arrays and arena (<see cref="PointBatch.AppendPoint"/>): no allocation per point once the
    /// pools are warm.
    /// </summary>
    private string? DecodeLineProtocol(string deviceId, ReadOnlySpan<byte> payload, long now, PointBatch batch)
    {
        if (deviceId.Length == 0 || deviceId.AsSpan().ContainsAnyInRange('\u0000', '\u001f') || deviceId.Contains('\u007f', StringComparison.Ordinal))
        {
            return $"device id \"{deviceId}\": ids cannot be empty or contain control characters";
        }

        int maxIdBytes = Encoding.UTF8.GetMaxByteCount(deviceId.Length);
        byte[]? rentedId = maxIdBytes > 512 ? ArrayPool<byte>.Shared.Rent(maxIdBytes) : null;
        Span<byte> idBuffer = rentedId is null ? stackalloc byte[512] : rentedId;
        ReadOnlySpan<byte> deviceIdUtf8 = idBuffer[..Encoding.UTF8.GetBytes(deviceId, idBuffer)];
        PointBatch scratch = RentBatch();
        try
        {
            if (!LineProtocolParser.TryDecode(payload, new LineProtocolOptions(TimePrecision.Nanoseconds, now), scratch, out IngestError error, out int rejectedLines))
            {
                return rejectedLines == 1 ? error.ToString() : $"{rejectedLines} lines rejected; first: {error}";
            }

            if (AllowListOf(deviceId) is { } allowed)
            {
                for (int i = 0; i < scratch.Count; i++)
                {
                    ReadOnlySpan<byte> measurement = scratch.Text(scratch[i].Measurement);
                    if (!allowed.Allows(measurement))
                    {
                        return $"line {scratch[i].LineNumber}: {allowed.Refusal(deviceId, measurement)}";
                    }
                }
            }

            for (int i = 0; i < scratch.Count; i++)
            {
                batch.AppendPoint(scratch, i, DeviceKey, deviceIdUtf8);
            }

            return null;
        }
        finally
        {
            ReturnBatch(scratch);
            if (rentedId is not null)
            {
                ArrayPool<byte>.Shared.Return(rentedId);
            }
        }
    }

    private PointBatch RentBatch() => _batches.Rent();

    private void ReturnBatch(PointBatch batch) => _batches.Return(batch);
}
