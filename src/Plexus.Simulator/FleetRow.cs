using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Plexus.Simulator;

/// <summary>
/// One row as the simulator emits it: a truck's readings or diagnostics at one tick, after the TSBS chaos decided
/// whether one field and/or one tag of it is NULL. Values are kept as the scaled integers TSBS's
/// <c>FP(d, p)</c> truncation produces (<c>int(x·10^p)</c>), so a writer can print them exactly without
/// floating-point formatting; <see cref="GetValue"/> gives the double TSBS would serialise.
/// </summary>
/// <remarks>72 bytes, copied by value into the out-of-order queues; pass it by <c>in</c>.</remarks>
public struct FleetRow
{
    internal ScaledValues Values;

    internal FleetRow(FleetMeasurement measurement, int truckIndex, long timestamp)
    {
        Measurement = measurement;
        TruckIndex = truckIndex;
        Timestamp = timestamp;
        NullField = -1;
        NullTag = -1;
    }

    // Declaration order is layout order: the 8-byte and 4-byte members before the 1-byte ones keep the row at 72 bytes.

    /// <summary>Nanoseconds since the Unix epoch, UTC.</summary>
    public long Timestamp { readonly get; internal set; }

    /// <summary>Index into <see cref="FleetSimulator.Trucks"/>.</summary>
    public int TruckIndex { readonly get; internal set; }

    public FleetMeasurement Measurement { readonly get; internal set; }

    /// <summary>The field index (into <see cref="FleetSchema.Fields"/>) whose value is NULL, or -1.</summary>
    public sbyte NullField { readonly get; internal set; }

    /// <summary>The <see cref="FleetTag"/> whose value is NULL (omitted from the row), or -1.</summary>
    public sbyte NullTag { readonly get; internal set; }

    public readonly int FieldCount => Measurement == FleetMeasurement.Readings ? 7 : 3;

    public readonly bool IsFieldNull(int field) => field == NullField;

    public readonly bool IsTagNull(FleetTag tag) => (int)tag == NullTag;

    /// <summary>Non-NULL measurement field values (the three numeric tags are not counted).</summary>
    public readonly int FieldValueCount => FieldCount - (NullField >= 0 ? 1 : 0);

    /// <summary>The value as the integer <c>int(x·10^decimals)</c>; see <see cref="FleetSchema.Fields"/> for the decimals.</summary>
    public readonly long GetScaledValue(int field)
    {
        Debug.Assert((uint)field < (uint)FieldCount, "field index within the measurement");
        return Values[field];
    }

    /// <summary>The value TSBS serialises: <c>float64(int(x·10^p)) / 10^p</c>. NULL fields still hold their value.</summary>
    public readonly double GetValue(int field)
    {
        var definition = FleetSchema.Fields(Measurement)[field];
        return Values[field] / Pow10(definition.Decimals);
    }

    internal static double Pow10(int decimals) => decimals switch
    {
        0 => 1,
        1 => 10,
        2 => 100,
        3 => 1000,
        4 => 10000,
        5 => 100000,
        _ => throw new ArgumentOutOfRangeException(nameof(decimals)),
    };

    [InlineArray(FleetSchema.MaxFieldCount)]
    internal struct ScaledValues
    {
        private long _element;
    }
}
