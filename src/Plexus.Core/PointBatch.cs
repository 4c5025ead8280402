using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Plexus.Core;

/// <summary>A range of bytes in a <see cref="PointBatch"/>'s text arena.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct TextSlice(int Start, int Length)
{
    public bool IsEmpty => Length == 0;
}

/// <summary>One tag of a point: key and value as unescaped UTF-8 in the batch's text arena.</summary>
public readonly record struct TagEntry(TextSlice Key, TextSlice Value);

/// <summary>
/// One field of a point. Numeric and boolean values live in <see cref="Bits"/> so that the entry stays a
/// small blittable struct; string values live in the text arena.
/// </summary>
public readonly record struct FieldEntry(TextSlice Key, FieldType Type, long Bits, TextSlice Text)
{
    public double FloatValue => BitConverter.Int64BitsToDouble(Bits);
    public long IntegerValue => Bits;
    public ulong UIntegerValue => unchecked((ulong)Bits);
    public bool BooleanValue => Bits != 0;
}

/// <summary>How far a <see cref="PointBatch"/> is filled, from <see cref="PointBatch.Mark"/>.</summary>
public readonly record struct BatchMark(int Points, int Tags, int Fields, int TextBytes);

/// <summary>A point: its measurement, the ranges of its tags and fields, its time in nanoseconds and where it came from.</summary>
public readonly record struct PointEntry(
    TextSlice Measurement,
    int FirstTag,
    int TagCount,
    int FirstField,
    int FieldCount,
    long Timestamp,
    int LineNumber);

/// <summary>
/// A reusable, caller-owned batch of decoded points. Decoders append into it; the storage writer reads it.
/// All names and string values are unescaped UTF-8 copied into one text arena, so that a batch holds no
/// reference into the request buffer and costs no allocation per point once its arrays have grown.
/// </summary>
/// <remarks>
/// Building protocol: <see cref="BeginPoint"/>, then any number of <see cref="AddTag"/> and <c>Add*</c> field
/// calls, then <see cref="EndPoint"/> to keep the point or <see cref="AbortPoint"/> to drop it (a decoder that
/// finds an error half-way through a line aborts, so that no partial point is ever stored).
/// </remarks>
public sealed class PointBatch
{
    private byte[] _text;
    private int _textLength;
    private PointEntry[] _points;
    private int _pointCount;
    private TagEntry[] _tags;
    private int _tagCount;
    private FieldEntry[] _fields;
    private int _fieldCount;

    // The point being built: valid between BeginPoint and EndPoint/AbortPoint.
    private bool _building;
    private TextSlice _pendingMeasurement;
    private int _pendingFirstTag;
    private int _pendingFirstField;
    private int _pendingTextStart;
    private int _pendingLine;

    /// <param name="pointCapacity">Points before the arrays grow.</param>
    /// <param name="fieldsPerPoint">Fields per point the arrays have room for.</param>
    /// <param name="textBytesPerPoint">Bytes of names and string values per point the arena has room for.</param>
    /// <param name="tagsPerPoint">Tags per point the arrays have room for.</param>
    public PointBatch(int pointCapacity = 1024, int fieldsPerPoint = 4, int textBytesPerPoint = 64, int tagsPerPoint = 4)
    {
        pointCapacity = Math.Max(pointCapacity, 16);
        _points = new PointEntry[pointCapacity];
        _tags = new TagEntry[pointCapacity * Math.Max(tagsPerPoint, 1)];
        _fields = new FieldEntry[pointCapacity * Math.Max(fieldsPerPoint, 4)];
        _text = new byte[pointCapacity * Math.Max(textBytesPerPoint, 64)];
    }

    public int Count => _pointCount;

    /// <summary>Number of field values across all points: the unit that benchmarks and limits count.</summary>
    public int FieldValueCount => _fieldCount;

    public int TextBytes => _textLength;

    /// <summary>Bytes the batch's arrays hold, used or not: what keeping it for reuse costs (<see cref="PointBatchPool"/>).</summary>
    public long RetainedBytes =>
        _text.Length
        + ((long)_points.Length * Unsafe.SizeOf<PointEntry>())
        + ((long)_tags.Length * Unsafe.SizeOf<TagEntry>())
        + ((long)_fields.Length * Unsafe.SizeOf<FieldEntry>());

    public ref readonly PointEntry this[int index]
    {
        get
        {
            if ((uint)index >= (uint)_pointCount)
            {
                ThrowIndex(index);
            }

            return ref _points[index];
        }
    }

    public ReadOnlySpan<byte> Text(TextSlice slice) => _text.AsSpan(slice.Start, slice.Length);

    public ReadOnlySpan<TagEntry> Tags(in PointEntry point) => _tags.AsSpan(point.FirstTag, point.TagCount);

    /// <summary>Tags of a point, writable so that a consumer can sort them in place (series keys need a canonical order).</summary>
    public Span<TagEntry> TagsForUpdate(in PointEntry point) => _tags.AsSpan(point.FirstTag, point.TagCount);

    public ReadOnlySpan<FieldEntry> Fields(in PointEntry point) => _fields.AsSpan(point.FirstField, point.FieldCount);

    public void Reset()
    {
        _textLength = 0;
        _pointCount = 0;
        _tagCount = 0;
        _fieldCount = 0;
        _building = false;
    }

    /// <summary>Copies <paramref name="bytes"/> into the text arena.</summary>
    public TextSlice AppendText(ReadOnlySpan<byte> bytes)
    {
        EnsureText(bytes.Length);
        bytes.CopyTo(_text.AsSpan(_textLength));
        var slice = new TextSlice(_textLength, bytes.Length);
        _textLength += bytes.Length;
        return slice;
    }

    /// <summary>
    /// Returns room for at most <paramref name="maxLength"/> bytes at the end of the arena, for decoders that
    /// unescape straight into it; <see cref="CommitText"/> then keeps what was written.
    /// </summary>
    public Span<byte> ReserveText(int maxLength)
    {
        EnsureText(maxLength);
        return _text.AsSpan(_textLength, maxLength);
    }

    public TextSlice CommitText(int length)
    {
        Debug.Assert(_textLength + length <= _text.Length, "CommitText past what ReserveText made room for");
        var slice = new TextSlice(_textLength, length);
        _textLength += length;
        return slice;
    }

    public void BeginPoint(ReadOnlySpan<byte> measurement, int lineNumber)
    {
        Debug.Assert(!_building, "BeginPoint while another point is being built");
        _pendingTextStart = _textLength;
        _pendingMeasurement = AppendText(measurement);
        BeginPointCore(lineNumber);
    }

    /// <summary>Starts a point whose measurement name the decoder already wrote into the arena (after unescaping).</summary>
    public void BeginPoint(TextSlice measurement, int lineNumber)
    {
        Debug.Assert(!_building, "BeginPoint while another point is being built");
        _pendingTextStart = measurement.Start;
        _pendingMeasurement = measurement;
        BeginPointCore(lineNumber);
    }

    private void BeginPointCore(int lineNumber)
    {
        _building = true;
        _pendingFirstTag = _tagCount;
        _pendingFirstField = _fieldCount;
        _pendingLine = lineNumber;
    }

    public void AddTag(TextSlice key, TextSlice value)
    {
        Debug.Assert(_building, "AddTag outside a point");
        if (_tagCount == _tags.Length)
        {
            Array.Resize(ref _tags, _tags.Length * 2);
        }

        _tags[_tagCount++] = new TagEntry(key, value);
    }

    public void AddFloat(TextSlice key, double value) => AddField(new FieldEntry(key, FieldType.Float, BitConverter.DoubleToInt64Bits(value), default));

    public void AddInteger(TextSlice key, long value) => AddField(new FieldEntry(key, FieldType.Integer, value, default));

    public void AddUInteger(TextSlice key, ulong value) => AddField(new FieldEntry(key, FieldType.UInteger, unchecked((long)value), default));

    public void AddBoolean(TextSlice key, bool value) => AddField(new FieldEntry(key, FieldType.Boolean, value ? 1 : 0, default));

    public void AddString(TextSlice key, TextSlice value) => AddField(new FieldEntry(key, FieldType.String, 0, value));

    private void AddField(in FieldEntry field)
    {
        Debug.Assert(_building, "Add field outside a point");
        if (_fieldCount == _fields.Length)
        {
            Array.Resize(ref _fields, _fields.Length * 2);
        }

        _fields[_fieldCount++] = field;
    }

    /// <summary>Number of fields added so far to the point being built.</summary>
    public int PendingFieldCount => _fieldCount - _pendingFirstField;

    /// <summary>Number of tags added so far to the point being built.</summary>
    public int PendingTagCount => _tagCount - _pendingFirstTag;

    /// <summary>Fields of the point being built, for decoders that check duplicates before ending it.</summary>
    public Span<FieldEntry> PendingFields => _fields.AsSpan(_pendingFirstField, _fieldCount - _pendingFirstField);

    /// <summary>Tags of the point being built.</summary>
    public Span<TagEntry> PendingTags => _tags.AsSpan(_pendingFirstTag, _tagCount - _pendingFirstTag);

    /// <summary>Drops the last field of the point being built (a later duplicate key replaces an earlier one).</summary>
    public void RemovePendingField(int indexInPoint)
    {
        Debug.Assert(_building && indexInPoint < PendingFieldCount, "RemovePendingField out of range");
        int absolute = _pendingFirstField + indexInPoint;
        Array.Copy(_fields, absolute + 1, _fields, absolute, _fieldCount - absolute - 1);
        _fieldCount--;
    }

    public void EndPoint(long timestampNanoseconds)
    {
        Debug.Assert(_building, "EndPoint outside a point");
        if (_pointCount == _points.Length)
        {
            Array.Resize(ref _points, _points.Length * 2);
        }

        _points[_pointCount++] = new PointEntry(
            _pendingMeasurement,
            _pendingFirstTag,
            _tagCount - _pendingFirstTag,
            _pendingFirstField,
            _fieldCount - _pendingFirstField,
            timestampNanoseconds,
            _pendingLine);
        _building = false;
    }

    /// <summary>Forgets the point being built, including the text it wrote.</summary>
    public void AbortPoint()
    {
        if (!_building)
        {
            return;
        }

        _tagCount = _pendingFirstTag;
        _fieldCount = _pendingFirstField;
        _textLength = _pendingTextStart;
        _building = false;
    }

    /// <summary>
    /// Appends every point of <paramref name="source"/>, its line number raised by <paramref name="lineOffset"/>: one
    /// copy of its text arena and a pass over its entries, so a decoder can work in a batch of its own and a shared
    /// one is held only for the copy.
    /// </summary>
    public void AppendFrom(PointBatch source, int lineOffset)
    {
        ArgumentNullException.ThrowIfNull(source);
        Debug.Assert(!_building && !source._building, "AppendFrom while a point is being built");
        int textDelta = _textLength;
        EnsureText(source._textLength);
        source._text.AsSpan(0, source._textLength).CopyTo(_text.AsSpan(_textLength));
        _textLength += source._textLength;

        int tagDelta = _tagCount;
        EnsureCapacity(ref _tags, _tagCount + source._tagCount);
        for (int i = 0; i < source._tagCount; i++)
        {
            TagEntry tag = source._tags[i];
            _tags[_tagCount++] = new TagEntry(Shift(tag.Key, textDelta), Shift(tag.Value, textDelta));
        }

        int fieldDelta = _fieldCount;
        EnsureCapacity(ref _fields, _fieldCount + source._fieldCount);
        for (int i = 0; i < source._fieldCount; i++)
        {
            FieldEntry field = source._fields[i];
            _fields[_fieldCount++] = new FieldEntry(Shift(field.Key, textDelta), field.Type, field.Bits, Shift(field.Text, textDelta));
        }

        EnsureCapacity(ref _points, _pointCount + source._pointCount);
        for (int i = 0; i < source._pointCount; i++)
        {
            PointEntry point = source._points[i];
            _points[_pointCount++] = new PointEntry(
                Shift(point.Measurement, textDelta), point.FirstTag + tagDelta, point.TagCount, point.FirstField + fieldDelta, point.FieldCount, point.Timestamp, point.LineNumber + lineOffset);
        }
    }

    /// <summary>
    /// Appends a copy of point <paramref name="index"/> of <paramref name="source"/>, its line number included, for a
    /// caller that keeps some points of a batch and not others. With a <paramref name="tagKey"/>, the copy carries
    /// the tag <paramref name="tagKey"/>=<paramref name="tagValue"/> in place of any tag of that key in any ASCII
    /// letter case (a device tag the data claims is replaced by the one its sender proved); the tag goes after the
    /// point's other tags. No allocation once this batch's arrays have grown.
    /// </summary>
    public void AppendPoint(PointBatch source, int index, ReadOnlySpan<byte> tagKey = default, ReadOnlySpan<byte> tagValue = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        Debug.Assert(!ReferenceEquals(source, this), "AppendPoint from the batch itself");
        ref readonly PointEntry point = ref source[index];
        BeginPoint(source.Text(point.Measurement), point.LineNumber);
        foreach (ref readonly TagEntry tag in source.Tags(point))
        {
            ReadOnlySpan<byte> key = source.Text(tag.Key);
            if (!tagKey.IsEmpty && Ascii.EqualsIgnoreCase(key, tagKey))
            {
                continue;
            }

            AddTag(AppendText(key), AppendText(source.Text(tag.Value)));
        }

        if (!tagKey.IsEmpty)
        {
            AddTag(AppendText(tagKey), AppendText(tagValue));
        }

        foreach (ref readonly FieldEntry field in source.Fields(point))
        {
            TextSlice key = AppendText(source.Text(field.Key));
            TextSlice text = field.Type == FieldType.String ? AppendText(source.Text(field.Text)) : default;
            AddField(field with { Key = key, Text = text });
        }

        EndPoint(point.Timestamp);
    }

    private static TextSlice Shift(TextSlice slice, int delta) => slice.Length == 0 ? slice : new TextSlice(slice.Start + delta, slice.Length);

    private static void EnsureCapacity<T>(ref T[] array, int needed)
    {
        if (needed > array.Length)
        {
            Array.Resize(ref array, Math.Max(needed, array.Length * 2));
        }
    }

    /// <summary>How far the batch is filled now: a decoder compares marks to check that a rejected message left nothing behind, or truncates back to one.</summary>
    public BatchMark Mark() => new(_pointCount, _tagCount, _fieldCount, _textLength);

    /// <summary>
    /// Forgets everything added since <paramref name="mark"/> was taken (a point being built included): a decoder
    /// whose message is one unit takes back the good points of a message it then rejects.
    /// </summary>
    public void Truncate(in BatchMark mark)
    {
        if ((uint)mark.Points > (uint)_pointCount || (uint)mark.Tags > (uint)_tagCount || (uint)mark.Fields > (uint)_fieldCount || (uint)mark.TextBytes > (uint)_textLength)
        {
            throw new ArgumentOutOfRangeException(nameof(mark), mark, "The mark is past what the batch holds; was it taken before a Reset?");
        }

        _pointCount = mark.Points;
        _tagCount = mark.Tags;
        _fieldCount = mark.Fields;
        _textLength = mark.TextBytes;
        _building = false;
    }

    /// <summary>Gives every point from <paramref name="firstPoint"/> on the line number <paramref name="lineNumber"/>: a store's refusal then names the message, not the line inside it.</summary>
    public void Renumber(int firstPoint, int lineNumber)
    {
        for (int i = firstPoint; i < _pointCount; i++)
        {
            _points[i] = _points[i] with { LineNumber = lineNumber };
        }
    }

    private void EnsureText(int extra)
    {
        int needed = _textLength + extra;
        if (needed > _text.Length)
        {
            Array.Resize(ref _text, Math.Max(needed, _text.Length * 2));
        }
    }

    private static void ThrowIndex(int index) => throw new ArgumentOutOfRangeException(nameof(index), index, "Point index out of range.");
}
