using System.Text;

namespace Plexus.Simulator;

/// <summary>
/// Every truck's eight tag values as UTF-8, made once per formatter so the per-row paths copy bytes instead of
/// encoding strings. Numeric tags are printed as Go's <c>AppendFloat(v, 'f', -1, 32)</c> does (<c>1500</c>).
/// </summary>
internal sealed class TruckTagText
{
    private readonly byte[][][] _values;

    public TruckTagText(IReadOnlyList<Truck> trucks)
    {
        var shared = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        _values = new byte[trucks.Count][][];
        for (int i = 0; i < trucks.Count; i++)
        {
            var truck = trucks[i];
            var values = new byte[FleetSchema.TagCount][];
            for (var tag = FleetTag.Name; tag <= FleetTag.NominalFuelConsumption; tag++)
            {
                string text = truck.StringTag(tag) ?? Utf8Text.FormatFloat32(truck.NumericTag(tag)!.Value);
                if (!shared.TryGetValue(text, out var bytes))
                {
                    bytes = Encoding.UTF8.GetBytes(text);
                    if (tag != FleetTag.Name)
                    {
                        shared.Add(text, bytes); // Fleets, drivers, models, versions and capacities repeat; names do not.
                    }
                }

                values[(int)tag] = bytes;
            }

            _values[i] = values;
        }
    }

    public ReadOnlySpan<byte> Get(int truck, FleetTag tag) => _values[truck][(int)tag];
}
