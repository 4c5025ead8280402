using System.Text;
using Plexus.Core;
using Plexus.Devices;
using Plexus.Storage.Writing;

namespace Plexus.Pipeline.Observers;

/// <summary>
/// Keeps each device's live position (<see cref="DeviceLiveState.NotePosition"/>) in step with what is stored in
/// <c>main.positions</c>, whatever wrote it: a device's MQTT location topic, the HTTP device API, or line protocol over
/// HTTP or MQTT. Only stored points count (a refused one moves nothing), and per write only each device's newest fix by
/// time (the last of equal ones) reaches the live state, which itself keeps the newest it has seen.
/// </summary>
/// <remarks>
/// Runs on the store's writer thread only (<see cref="ObserverStage"/>), so its scratch needs no lock. It reads the
/// batch's spans in place: a device's id becomes a string the first time it is seen and is found by its bytes after
/// that, so a write costs no allocation per point.
/// </remarks>
public sealed class LiveStateObserver : IIngestObserver
{
    /// <summary>Ids remembered between writes; past it they are forgotten and made again as writes bring them.</summary>
    private const int MaxRememberedDevices = 65_536;

    private static readonly byte[] PositionsName = Encoding.UTF8.GetBytes(DeviceDataNames.Positions);

    private readonly DeviceLiveState _state;
    private readonly Utf8Map<Fix> _devices = new();
    private readonly List<Fix> _newest = [];

    public LiveStateObserver(DeviceLiveState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        _state = state;
    }

    public string Name => "live-state";

    public void OnStored(in CommittedWrite write)
    {
        if (!string.Equals(write.Namespace, DeviceDataNames.Namespace, StringComparison.Ordinal))
        {
            return;
        }

        if (_devices.Count > MaxRememberedDevices)
        {
            _devices.Clear();
        }

        _newest.Clear();
        PointBatch batch = write.Batch;
        for (int i = 0; i < batch.Count; i++)
        {
            ref readonly PointEntry point = ref batch[i];

            // SQL names are case-insensitive and the store refuses a second spelling, so any spelling is main.positions.
            if (!Ascii.EqualsIgnoreCase(batch.Text(point.Measurement), PositionsName) || !write.IsStored(i)
                || !TryReadFix(batch, in point, out ReadOnlySpan<byte> device, out double lat, out double lon))
            {
                continue;
            }

            Fix fix = FixOf(device);
            if (fix.Write != write.Sequence)
            {
                fix.Write = write.Sequence;
                _newest.Add(fix);
            }
            else if (point.Timestamp < fix.TimeNs)
            {
                continue;
            }

            fix.Lat = lat;
            fix.Lon = lon;
            fix.TimeNs = point.Timestamp;
        }

        foreach (Fix fix in _newest)
        {
            _state.NotePosition(fix.Device, fix.Lat, fix.Lon, fix.TimeNs);
        }

        _newest.Clear();
    }

    private Fix FixOf(ReadOnlySpan<byte> device)
    {
        if (!_devices.TryGetValue(device, out Fix? fix))
        {
            fix = new Fix(Encoding.UTF8.GetString(device));
            _devices.Set(device, fix);
        }

        return fix;
    }

    /// <summary>The point's <c>device</c> tag and numeric <c>lat</c> and <c>lon</c> fields; false if one is missing.</summary>
    private static bool TryReadFix(PointBatch batch, in PointEntry point, out ReadOnlySpan<byte> device, out double lat, out double lon)
    {
        device = default;
        foreach (TagEntry tag in batch.Tags(in point))
        {
            if (Ascii.EqualsIgnoreCase(batch.Text(tag.Key), "device"u8))
            {
                device = batch.Text(tag.Value);
                break;
            }
        }

        bool hasLat = false, hasLon = false;
        lat = lon = 0;
        foreach (FieldEntry field in batch.Fields(in point))
        {
            ReadOnlySpan<byte> name = batch.Text(field.Key);
            if (Ascii.EqualsIgnoreCase(name, "lat"u8))
            {
                hasLat = TryNumber(field, out lat);
            }
            else if (Ascii.EqualsIgnoreCase(name, "lon"u8))
            {
                hasLon = TryNumber(field, out lon);
            }
        }

        return !device.IsEmpty && hasLat && hasLon;
    }

    private static bool TryNumber(in FieldEntry field, out double value)
    {
        value = field.Type switch
        {
            FieldType.Float => field.FloatValue,
            FieldType.Integer => field.IntegerValue,
            FieldType.UInteger => field.UIntegerValue,
            _ => double.NaN,
        };
        return !double.IsNaN(value);
    }

    /// <summary>A device's newest fix in the write being read (<see cref="Write"/> is that write's sequence number).</summary>
    private sealed class Fix(string device)
    {
        public readonly string Device = device;
        public long Write = -1;
        public double Lat;
        public double Lon;
        public long TimeNs;
    }
}
