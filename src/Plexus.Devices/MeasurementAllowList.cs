using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Plexus.Devices;

/// <summary>
/// The measurements of namespace <c>main</c> one device may write, when its registry entry narrows them
/// (<c>measurements</c>, docs/devices.md#measurement-allow-list). Names match exactly, letter case included: a device
/// allowed <c>power</c> cannot create <c>Power</c>, which would then block <c>power</c>.
/// </summary>
public sealed class MeasurementAllowList
{
    private readonly byte[][] _utf8;

    public MeasurementAllowList(IReadOnlyList<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        Names = names;
        _utf8 = [.. names.Select(Encoding.UTF8.GetBytes)];
    }

    public IReadOnlyList<string> Names { get; }

    public bool Allows(ReadOnlySpan<byte> measurement)
    {
        foreach (byte[] name in _utf8)
        {
            if (measurement.SequenceEqual(name))
            {
                return true;
            }
        }

        return false;
    }

    public bool Allows(string measurement) => Names.Contains(measurement, StringComparer.Ordinal);

    /// <summary>Why <paramref name="measurement"/> is refused for <paramref name="deviceId"/>, naming the allow-list and how to change it.</summary>
    public string Refusal(string deviceId, string measurement) =>
        $"device \"{deviceId}\" may write only the measurements {string.Join(", ", Names.Select(n => $"\"{n}\""))} (its allow-list in the device registry), " +
        $"not \"{measurement}\"; write to one of those or add it (plexus devices update {deviceId} --measurement ...)";

    public string Refusal(string deviceId, ReadOnlySpan<byte> measurement) => Refusal(deviceId, Encoding.UTF8.GetString(measurement));
}

/// <summary>
/// Every device's allow-list, kept by <see cref="DeviceRegistry"/> as it changes; the broker and the HTTP write endpoint
/// look a device up for each message or request. While no device has one — the default — a look-up is one read.
/// </summary>
public sealed class MeasurementAllowLists
{
    private readonly ConcurrentDictionary<string, MeasurementAllowList> _lists = new(StringComparer.Ordinal);
    private int _count;

    /// <summary>The device's allow-list; false when it may write any measurement of <c>main</c> but the reserved ones.</summary>
    public bool TryGet(string deviceId, [NotNullWhen(true)] out MeasurementAllowList? list)
    {
        if (Volatile.Read(ref _count) == 0)
        {
            list = null;
            return false;
        }

        return _lists.TryGetValue(deviceId, out list);
    }

    /// <summary>Called by the registry under its lock after a committed change.</summary>
    internal void Set(string deviceId, IReadOnlyList<string>? names)
    {
        if (names is null)
        {
            _lists.TryRemove(deviceId, out _);
        }
        else
        {
            _lists[deviceId] = new MeasurementAllowList(names);
        }

        Volatile.Write(ref _count, _lists.Count);
    }
}
