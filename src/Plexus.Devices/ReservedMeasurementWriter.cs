using System.Text;
using Plexus.Core;
using Plexus.Storage.Writing;

namespace Plexus.Devices;

/// <summary>
/// Refuses points for the reserved measurement names in namespace <c>main</c> (<see cref="ReservedNames"/>): the
/// store would otherwise replace a Plexus view with the measurement's own, or mix foreign rows into device data. Every other point goes through unchanged.
/// </summary>
/// <remarks>
/// Fast path: one scan of the measurement names and the batch is passed on as it is. Only a batch that holds a
/// reserved point is copied without it (the writer has no way to skip points), and the refusals are reported like
/// any other rejected line.
/// </remarks>
public sealed class ReservedMeasurementWriter(IPointWriter inner) : IPointWriter
{
    public const string Namespace = "main";
    public const string Measurement = "devices";

    /// <summary>The measurements the broker writes itself; a foreign row would corrupt the live state they feed.</summary>
    private static readonly string[] DeviceDataReserved = [DeviceDataNames.DeviceState, DeviceDataNames.StateHistory, DeviceDataNames.DeadLetters];

    /// <summary>
    /// Every name of a Plexus SQL view in <c>main</c> (devices, assets, their history and ancestry, geofences,
    /// device_positions, audit_log) and of the device data the broker writes.
    /// </summary>
    public static readonly IReadOnlyList<string> ReservedNames = [.. DeviceLinks.ViewNames.Concat(RelationsSql.ViewNames).Append("geofences").Append("device_positions").Append(Storage.AuditLog.ViewName).Concat(DeviceDataReserved).Distinct()];

    private static readonly byte[][] ReservedUtf8 = [.. ReservedNames.Select(Encoding.UTF8.GetBytes)];

    /// <summary>True when <paramref name="name"/> is one of <see cref="ReservedNames"/>, in any letter case.</summary>
    public static bool IsReservedName(string name) => IsReserved(Encoding.UTF8.GetBytes(name));

    private static string Reason(ReadOnlySpan<byte> name)
    {
        string text = Encoding.UTF8.GetString(name);
        return DeviceDataReserved.Contains(text, StringComparer.OrdinalIgnoreCase)
            ? $"measurement \"{text.ToLowerInvariant()}\" in namespace \"{Namespace}\" is reserved for device data the broker writes (docs/sql.md#device-data); write to another measurement or namespace"
            : string.Equals(text, Storage.AuditLog.ViewName, StringComparison.OrdinalIgnoreCase)
                ? $"measurement \"{text}\" in namespace \"{Namespace}\" is reserved for the audit log's SQL view; write to another measurement or namespace"
                : $"measurement \"{text}\" in namespace \"{Namespace}\" is reserved for the device registry's SQL view; write to another measurement or namespace";
    }

    public async Task<WriteResult> WriteAsync(string ns, PointBatch batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ns);
        ArgumentNullException.ThrowIfNull(batch);
        if (!string.Equals(ns, Namespace, StringComparison.OrdinalIgnoreCase) || !HasReserved(batch))
        {
            return await inner.WriteAsync(ns, batch, cancellationToken);
        }

        var kept = new PointBatch(batch.Count);
        var refused = new List<LineError>();
        for (int i = 0; i < batch.Count; i++)
        {
            ref readonly var point = ref batch[i];
            if (IsReserved(batch.Text(point.Measurement)))
            {
                refused.Add(new LineError(point.LineNumber, LineError.Excerpt(batch.Text(point.Measurement)), Reason(batch.Text(point.Measurement))));
                continue;
            }

            kept.AppendPoint(batch, i);
        }

        var result = kept.Count == 0 ? WriteResult.Empty : await inner.WriteAsync(ns, kept, cancellationToken);
        return new WriteResult(result.PointsWritten, [.. result.Rejected.Concat(refused).OrderBy(e => e.Line)]);
    }

    private static bool HasReserved(PointBatch batch)
    {
        for (int i = 0; i < batch.Count; i++)
        {
            if (IsReserved(batch.Text(batch[i].Measurement)))
            {
                return true;
            }
        }

        return false;
    }

    // SQL names ignore case, so "Devices" would replace the view as well.
    private static bool IsReserved(ReadOnlySpan<byte> name)
    {
        foreach (byte[] reserved in ReservedUtf8)
        {
            if (Ascii.EqualsIgnoreCase(name, reserved))
            {
                return true;
            }
        }

        return false;
    }
}
