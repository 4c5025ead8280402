using System.Text;
using Plexus.Core;
using Plexus.Storage.Rollups;

namespace Plexus.Pipeline;

/// <summary>
/// Refuses points for a measurement named like a rollup of the same namespace (<c>readings_1h</c>): the rollup's view
/// has that name in SQL, and a measurement would replace it (docs/storage.md#rollups).
/// </summary>
/// <remarks>
/// Fast path: one dictionary lookup when the namespace has no rollup; else one scan of the measurement names, and only
/// a batch holding such a point is copied without it, as the reserved-name guard does.
/// </remarks>
public sealed class RollupNameGuard(RollupRegistry registry) : IIngestGuard
{
    public PointBatch Check(string ns, PointBatch batch, ref List<LineError>? refused)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (registry.Current.Of(ns) is not { } rollups || !HasRollupName(batch, rollups))
        {
            return batch;
        }

        var kept = new PointBatch(batch.Count);
        for (int i = 0; i < batch.Count; i++)
        {
            ref readonly var point = ref batch[i];
            var name = batch.Text(point.Measurement);
            if (rollups.IsRollupName(name))
            {
                (refused ??= []).Add(LineError.ForPoint(batch, point,
                    $"measurement \"{Encoding.UTF8.GetString(name)}\" in namespace \"{ns}\" is the name of a rollup's view (docs/storage.md#rollups); write to another measurement, or remove the rollup (plexus rollups remove)"));
                continue;
            }

            kept.AppendPoint(batch, i);
        }

        return kept;
    }

    private static bool HasRollupName(PointBatch batch, NamespaceRollups rollups)
    {
        int lastStart = -1;
        for (int i = 0; i < batch.Count; i++)
        {
            var slice = batch[i].Measurement;
            if (slice.Start == lastStart)
            {
                continue;
            }

            lastStart = slice.Start;
            if (rollups.IsRollupName(batch.Text(slice)))
            {
                return true;
            }
        }

        return false;
    }
}
