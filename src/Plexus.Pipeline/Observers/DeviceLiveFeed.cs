using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Plexus.Core;
using Plexus.Storage.Schema;
using Plexus.Storage.Writing;

namespace Plexus.Pipeline.Observers;

/// <summary>
/// Stored points of watched devices, as they become durable, for the console's live charts (the server-sent events of
/// <c>GET /api/v1/devices/{id}/live</c>). A point of namespace <c>main</c> belongs to the device of its <c>device</c>
/// tag, whichever source wrote it.
/// </summary>
/// <remarks>
/// Runs on the store's writer thread and must never slow it: with nobody watching a write costs one null check; with
/// watchers, each watched point is formatted once as JSON and offered to each watcher's bounded queue, and a full queue
/// (a slow browser) drops the point and counts it rather than wait. Subscribing replaces an immutable map of watchers
/// under a lock, so the writer reads it without one.
/// </remarks>
public sealed class DeviceLiveFeed : IIngestObserver
{
    private readonly Lock _sync = new();
    private readonly Dictionary<string, List<LiveFeedSubscription>> _watchers = new(StringComparer.Ordinal);
    private volatile Utf8Map<LiveFeedSubscription[]>? _byDevice;
    private int _clients;
    private long _dropped;
    private long _sent;

    public DeviceLiveFeed(int maxClients, int queueCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxClients, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(queueCapacity, 1);
        MaxClients = maxClients;
        QueueCapacity = queueCapacity;
    }

    public string Name => "live-feed";

    /// <summary>Watchers at once, over every device (<c>--live-max-clients</c>).</summary>
    public int MaxClients { get; }

    /// <summary>Points a watcher may fall behind before new ones are dropped for it (<c>--live-queue</c>).</summary>
    public int QueueCapacity { get; }

    public int Clients => Volatile.Read(ref _clients);

    /// <summary>Points offered to watchers whose queue was full, over all watchers since start.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Points handed to watchers' queues since start.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Starts watching <paramref name="device"/>; null when <see cref="MaxClients"/> watchers exist already.</summary>
    public LiveFeedSubscription? TrySubscribe(string device)
    {
        ArgumentNullException.ThrowIfNull(device);
        lock (_sync)
        {
            if (_clients >= MaxClients)
            {
                return null;
            }

            var subscription = new LiveFeedSubscription(this, device, QueueCapacity);
            if (!_watchers.TryGetValue(device, out var list))
            {
                _watchers[device] = list = [];
            }

            list.Add(subscription);
            _clients++;
            Publish();
            return subscription;
        }
    }

    internal void Unsubscribe(LiveFeedSubscription subscription)
    {
        lock (_sync)
        {
            if (!_watchers.TryGetValue(subscription.Device, out var list) || !list.Remove(subscription))
            {
                return;
            }

            if (list.Count == 0)
            {
                _watchers.Remove(subscription.Device);
            }

            _clients--;
            Publish();
        }
    }

    private void Publish()
    {
        if (_watchers.Count == 0)
        {
            _byDevice = null;
            return;
        }

        var map = new Utf8Map<LiveFeedSubscription[]>();
        foreach (var (device, list) in _watchers)
        {
            map.Set(Encoding.UTF8.GetBytes(device), [.. list]);
        }

        _byDevice = map;
    }

    public void OnStored(in CommittedWrite write)
    {
        var byDevice = _byDevice;
        if (byDevice is null || !string.Equals(write.Namespace, Namespaces.Default, StringComparison.Ordinal))
        {
            return;
        }

        PointBatch batch = write.Batch;
        for (int i = 0; i < batch.Count; i++)
        {
            ref readonly PointEntry point = ref batch[i];
            if (!TryDeviceOf(batch, in point, out ReadOnlySpan<byte> device) || !byDevice.TryGetValue(device, out var watchers) || !write.IsStored(i))
            {
                continue;
            }

            byte[] json = Format(batch, in point);
            foreach (var watcher in watchers)
            {
                if (watcher.Offer(json))
                {
                    Interlocked.Increment(ref _sent);
                }
                else
                {
                    Interlocked.Increment(ref _dropped);
                }
            }
        }
    }

    private static bool TryDeviceOf(PointBatch batch, in PointEntry point, out ReadOnlySpan<byte> device)
    {
        foreach (TagEntry tag in batch.Tags(in point))
        {
            if (batch.Text(tag.Key).SequenceEqual("device"u8))
            {
                device = batch.Text(tag.Value);
                return true;
            }
        }

        device = default;
        return false;
    }

    /// <summary><c>{"measurement": "m", "time": "…Z", "fields": {"temp": 21.5, …}}</c>; non-finite floats as strings.</summary>
    private static byte[] Format(PointBatch batch, in PointEntry point)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("measurement"u8, batch.Text(point.Measurement));
            json.WriteString("time"u8, DateTimeOffset.UnixEpoch.AddTicks(point.Timestamp / 100));
            json.WriteStartObject("fields"u8);
            foreach (FieldEntry field in batch.Fields(in point))
            {
                ReadOnlySpan<byte> name = batch.Text(field.Key);
                switch (field.Type)
                {
                    case FieldType.Float when double.IsFinite(field.FloatValue):
                        json.WriteNumber(name, field.FloatValue);
                        break;
                    case FieldType.Float:
                        json.WriteString(name, field.FloatValue.ToString(System.Globalization.CultureInfo.InvariantCulture));
                        break;
                    case FieldType.Integer:
                        json.WriteNumber(name, field.IntegerValue);
                        break;
                    case FieldType.UInteger:
                        json.WriteNumber(name, field.UIntegerValue);
                        break;
                    case FieldType.Boolean:
                        json.WriteBoolean(name, field.BooleanValue);
                        break;
                    default:
                        json.WriteString(name, batch.Text(field.Text));
                        break;
                }
            }

            json.WriteEndObject();
            json.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}

/// <summary>One watcher of one device: read <see cref="Points"/> (JSON per point); dispose to stop watching.</summary>
public sealed class LiveFeedSubscription : IDisposable
{
    private readonly DeviceLiveFeed _feed;
    private readonly Channel<byte[]> _queue;
    private long _dropped;

    internal LiveFeedSubscription(DeviceLiveFeed feed, string device, int capacity)
    {
        _feed = feed;
        Device = device;

        // Wait mode makes TryWrite answer false when full instead of evicting: the newest point is the one dropped.
        _queue = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(capacity) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true, SingleWriter = true });
    }

    public string Device { get; }

    public ChannelReader<byte[]> Points => _queue.Reader;

    /// <summary>Points dropped for this watcher because its queue was full; the reader may tell its client.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    internal bool Offer(byte[] json)
    {
        if (_queue.Writer.TryWrite(json))
        {
            return true;
        }

        Interlocked.Increment(ref _dropped);
        return false;
    }

    public void Dispose()
    {
        _feed.Unsubscribe(this);
        _queue.Writer.TryComplete();
    }
}
