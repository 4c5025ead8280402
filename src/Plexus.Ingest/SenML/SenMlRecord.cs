namespace Plexus.Ingest.SenML;

/// <summary>A string of the pack, by place: its content's offset (after the opening quote) and raw length.</summary>
internal readonly record struct SenMlString(int Start, int Length, bool Escaped)
{
    public static SenMlString None => new(-1, 0, false);

    public bool IsPresent => Start >= 0;

    /// <summary>Present and not <c>""</c>: an empty unit is no unit.</summary>
    public bool IsNonEmpty => Start >= 0 && Length > 0;
}

internal enum SenMlValueKind : byte
{
    /// <summary>The record only carries a sum.</summary>
    None,
    Number,
    Boolean,
    String,
    Data,
}

/// <summary>Where a record's field name comes from (see docs/ingest/senml.md, "Field names").</summary>
internal enum SenMlNaming : byte
{
    /// <summary>The resolved name without its device prefix.</summary>
    Name,

    /// <summary>The name is only the device's: the unit tells the quantities apart (RFC 8428 §5.1.3).</summary>
    Unit,

    /// <summary>The name is only the device's and there is no unit.</summary>
    Value,
}

/// <summary>
/// A record after the first pass: checked, resolved against the base values in force (RFC 8428 §4.6), and
/// reduced to offsets and numbers, so that the second pass can write it without reading JSON again.
/// </summary>
internal struct SenMlRecord
{
    public int Index;
    public long Time;
    public SenMlString BaseName;
    public SenMlString Name;
    public SenMlString Unit;

    /// <summary>The <c>vs</c> or <c>vd</c> string.</summary>
    public SenMlString Text;
    public SenMlValueKind Kind;
    public SenMlNaming Naming;
    public bool HasSum;

    /// <summary>Bytes of the resolved name (bn + n) that name the device and are left out of the field name.</summary>
    public int PrefixLength;

    /// <summary><c>bv + v</c>, or 1/0 for <c>vb</c>.</summary>
    public double Value;

    /// <summary><c>bs + s</c>.</summary>
    public double Sum;
}
