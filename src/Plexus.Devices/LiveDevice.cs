using System.Collections.Concurrent;

namespace Plexus.Devices;

/// <summary>
/// One device's live state in memory (<see cref="DeviceLiveState"/>). Fields are read and written under
/// <see cref="Sync"/> (the counters and last_seen also with <see cref="Volatile"/>/<see cref="Interlocked"/>);
/// <see cref="Gate"/> orders the device's history writes so the live values follow them in order.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "A SemaphoreSlim holds no OS handle unless AvailableWaitHandle is used; entries live as long as the server.")]
internal sealed class LiveDevice
{
    public readonly Lock Sync = new();
    public readonly SemaphoreSlim Gate = new(1, 1);
    public readonly Dictionary<string, LiveProperty> Properties = new(StringComparer.Ordinal);
    public bool Online;
    public int Connections;
    public long LastSeenNs;
    public long LastHistoryNs;
    public string? LastReason;
    public long LastReasonNs;
    public bool HasPosition;
    public double Lat;
    public double Lon;
    public long PositionNs;
    public long DeadLetters;

    /// <summary>The device's entry, created empty the first time it is asked for.</summary>
    public static LiveDevice Of(ConcurrentDictionary<string, LiveDevice> devices, string device) =>
        devices.GetOrAdd(device, static _ => new LiveDevice());

    /// <summary>History rows of one device get strictly increasing times, so the latest row is the latest event.</summary>
    public long NextHistoryTime(long now)
    {
        lock (Sync)
        {
            return now > LastHistoryNs ? now : LastHistoryNs + 1;
        }
    }

    public static DateTimeOffset TimeOf(long nanoseconds) => DateTimeOffset.UnixEpoch.AddTicks(nanoseconds / 100);
}

/// <summary>A reported property's live value and the time it was reported.</summary>
internal sealed record LiveProperty(string Value, double? Number, ReportedKind Kind, long TimeNs);
