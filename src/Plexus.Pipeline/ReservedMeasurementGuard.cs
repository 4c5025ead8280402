using System.Text;
using Plexus.Core;
using Plexus.Devices;

namespace Plexus.Pipeline;

/// <summary>
/// Refuses points for the reserved measurement names of namespace <c>main</c> (<see cref="ReservedMeasurements"/>): the
/// store would otherwise replace a Plexus view with the measurement's own, or mix foreign rows into device data.
/// </summary>
/// <remarks>
/// Fast path: one scan of the measurement names, and the batch goes on as it is. Only a batch holding a reserved point
/// is copied without it (the store has no way to skip points), and the refusals are reported like any rejected line.
/// </remarks>
public sealed class ReservedMeasurementGuard : IIngestGuard
{
    private static readonly byte[][] ReservedUtf8 = [.. ReservedMeasurements.Names.Select(Encoding.UTF8.GetBytes)];

    public PointBatch Check(string ns, PointBatch batch, ref List<LineError>? refused)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (!string.Equals(ns, ReservedMeasurements.Namespace, StringComparison.OrdinalIgnoreCase) || !HasReserved(batch))
        {
            return batch;
        }

        var kept = new PointBatch(batch.Count);
        for (int i = 0; i < batch.Count; i++)
        {
            ref readonly var point = ref batch[i];
            var name = batch.Text(point.Measurement);
            if (IsReserved(name))
            {
                (refused ??= []).Add(LineError.ForPoint(batch, point, ReservedMeasurements.Reason(Encoding.UTF8.GetString(name))));
                continue;
            }

            kept.AppendPoint(batch, i);
        }

        return kept;
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

    private static bool IsReserved(ReadOnlySpan<byte> name)
    {
        foreach (var reserved in ReservedUtf8)
        {
            if (Ascii.EqualsIgnoreCase(name, reserved))
            {
                return true;
            }
        }

        return false;
    }
}
