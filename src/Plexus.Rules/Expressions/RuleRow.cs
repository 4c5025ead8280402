using System.Buffers.Text;
using System.Globalization;
using System.Text;
using Plexus.Core;

namespace Plexus.Rules.Expressions;

/// <summary>
/// The point a rule is evaluated over: a row of a <see cref="PointBatch"/>, and the facts of its device. One instance is
/// reused for every point (<see cref="Bind"/>): a column is found in the point once, however many rules read it, and
/// what string functions make goes to a scratch space that is reset per point, so evaluation allocates nothing per
/// point once the scratch has grown. Not thread-safe: one per evaluating thread.
/// </summary>
public sealed class RuleRow
{
    private const int MaxScratchBytes = 1 << 20;

    private readonly RuleSymbols _symbols;
    private int[] _resolvedIn = [];
    private RuleValue[] _columns = [];
    private int _generation;
    private byte[] _scratch = new byte[256];
    private int _scratchLength;
    private PointBatch? _batch;
    private int _index;

    public RuleRow(RuleSymbols symbols)
    {
        ArgumentNullException.ThrowIfNull(symbols);
        _symbols = symbols;
    }

    public PointBatch Batch => _batch ?? throw new InvalidOperationException("no point is bound; call Bind first");

    public int Index => _index;

    /// <summary>The point's device (registry, live state, position), or null for a point without one.</summary>
    public RuleDevice? Device { get; private set; }

    /// <summary>What the rule being evaluated remembers for this point's device or series (<c>rate</c>, <c>changed</c>); set by the engine.</summary>
    public RuleMemory? Memory { get; set; }

    /// <summary>The point's time in nanoseconds since the epoch.</summary>
    public long TimeNs => Batch[_index].Timestamp;

    public void Bind(PointBatch batch, int index, RuleDevice? device)
    {
        ArgumentNullException.ThrowIfNull(batch);
        _batch = batch;
        _index = index;
        Device = device;
        _scratchLength = 0;
        if (++_generation == int.MaxValue)
        {
            _generation = 1;
            Array.Clear(_resolvedIn);
        }
    }

    /// <summary>The text of a value (of the batch, a constant or the scratch space).</summary>
    public ReadOnlySpan<byte> TextOf(in RuleValue value) =>
        value.Bytes is { } bytes ? bytes.AsSpan(value.Start, value.Length) : Batch.Text(new TextSlice(value.Start, value.Length));

    /// <summary>The text of a value as a string (allocates: for alarms and messages, not for evaluation).</summary>
    public string Describe(in RuleValue value) => value.Kind switch
    {
        RuleValueKind.Null => "NULL",
        RuleValueKind.Boolean => value.IsTrue ? "true" : "false",
        RuleValueKind.Number => value.Number.ToString("R", CultureInfo.InvariantCulture),
        _ => Encoding.UTF8.GetString(TextOf(value)),
    };

    /// <summary>The point's field or tag <paramref name="symbol"/>; NULL when the point has neither (fields win).</summary>
    internal RuleValue Column(int symbol)
    {
        if (symbol >= _resolvedIn.Length)
        {
            Grow(_symbols.Count);
        }

        if (_resolvedIn[symbol] == _generation)
        {
            return _columns[symbol];
        }

        var value = Find(_symbols.NameOf(symbol));
        _columns[symbol] = value;
        _resolvedIn[symbol] = _generation;
        return value;
    }

    /// <summary>Copies text into the scratch space; past its bound (1 MiB per point) the result is NULL.</summary>
    internal RuleValue Store(ReadOnlySpan<byte> text)
    {
        if (!Reserve(text.Length))
        {
            return RuleValue.Null;
        }

        text.CopyTo(_scratch.AsSpan(_scratchLength));
        var value = RuleValue.OfText(_scratch, _scratchLength, text.Length);
        _scratchLength += text.Length;
        return value;
    }

    /// <summary>A number as SQL shows it in text (for <c>||</c>).</summary>
    internal RuleValue StoreNumber(double number)
    {
        if (!Reserve(32))
        {
            return RuleValue.Null;
        }

        bool formatted = number == Math.Floor(number) && Math.Abs(number) < 1e15
            ? Utf8Formatter.TryFormat((long)number, _scratch.AsSpan(_scratchLength), out int written)
            : number.TryFormat(_scratch.AsSpan(_scratchLength), out written, "R", CultureInfo.InvariantCulture);
        if (!formatted)
        {
            return RuleValue.Null;
        }

        var value = RuleValue.OfText(_scratch, _scratchLength, written);
        _scratchLength += written;
        return value;
    }

    /// <summary>Room for <paramref name="length"/> more bytes; a new array when full (values made earlier keep the old one).</summary>
    internal bool Reserve(int length)
    {
        if (_scratchLength + length <= _scratch.Length)
        {
            return true;
        }

        if (length > MaxScratchBytes)
        {
            return false;
        }

        _scratch = new byte[Math.Max(_scratch.Length * 2, length * 2)];
        _scratchLength = 0;
        return true;
    }

    internal Span<byte> ScratchSpace(int length) => _scratch.AsSpan(_scratchLength, length);

    internal RuleValue CommitScratch(int length)
    {
        var value = RuleValue.OfText(_scratch, _scratchLength, length);
        _scratchLength += length;
        return value;
    }

    private RuleValue Find(byte[] name)
    {
        var batch = Batch;
        ref readonly var point = ref batch[_index];
        foreach (var field in batch.Fields(in point))
        {
            if (Ascii.EqualsIgnoreCase(batch.Text(field.Key), name))
            {
                return field.Type switch
                {
                    FieldType.Float => RuleValue.Of(field.FloatValue),
                    FieldType.Integer => RuleValue.Of(field.IntegerValue),
                    FieldType.UInteger => RuleValue.Of(field.UIntegerValue),
                    FieldType.Boolean => RuleValue.Of(field.BooleanValue),
                    _ => RuleValue.OfBatchText(field.Text),
                };
            }
        }

        foreach (var tag in batch.Tags(in point))
        {
            if (Ascii.EqualsIgnoreCase(batch.Text(tag.Key), name))
            {
                return RuleValue.OfBatchText(tag.Value);
            }
        }

        return RuleValue.Null;
    }

    private void Grow(int count)
    {
        Array.Resize(ref _resolvedIn, Math.Max(count, 8));
        Array.Resize(ref _columns, Math.Max(count, 8));
    }
}
