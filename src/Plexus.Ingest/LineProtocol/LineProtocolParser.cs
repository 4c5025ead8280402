// One file on purpose (about 1,000 lines): the entry reader below is one hand-written state machine over one entry
// (measurement, tags, fields, timestamp), and the scans, stop sets, value parsers and error reporting around it exist
// for it alone. It is the HTTP ingest hot path and is measured; kept together it reads top to bottom beside the
// grammar in docs/ingest/line-protocol.md.
using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Unicode;
using Plexus.Core;

namespace Plexus.Ingest.LineProtocol;

/// <summary>
/// Decodes InfluxDB line protocol into a <see cref="PointBatch"/>. Pure: no I/O, no clock, no exceptions for
/// bad input, and no allocation for good lines once the batch's arrays have grown. The accepted grammar and
/// every deliberate difference from InfluxDB are in docs/ingest/line-protocol.md.
/// </summary>
/// <remarks>
/// Design note: entries, not lines. A quoted string field may hold raw newlines, so an entry (one point) can
/// span several physical lines and only the grammar knows where it ends. The parser therefore reads straight
/// from the start of an entry to its terminating newline, and every scan stops at '\n' except the string scan.
/// A caller that feeds a stream in pieces passes <c>isFinalBlock: false</c>; any entry whose parse reaches the
/// end of the piece before its newline is then left unconsumed (nothing added, nothing reported) and is parsed
/// again, whole, once more bytes arrived. Because no decision about an entry depends on bytes after its
/// newline, the result does not depend on where the stream was split.
/// <code>
///   cpu,host=a v=1,s="x\ny" 17\n   ← one entry, two physical lines: line numbers advance by 2
///   ^start                     ^end (after '\n')
/// </code>
/// </remarks>
public static class LineProtocolParser
{
    // Control characters may not appear in names (the proposed line-protocol standard); tag values and
    // string field values may hold them, apart from the newline that ends a tag value.
    private static readonly SearchValues<byte> MeasurementStops = SearchValues.Create(WithControls(", \\"u8));
    private static readonly SearchValues<byte> KeyStops = SearchValues.Create(WithControls(",= \\"u8));
    // NUL is a soft stop: with five values SearchValues compares each one separately, with six it uses its
    // (measurably faster) bitmap path; ScanToken steps over a NUL in a tag value.
    private static readonly SearchValues<byte> TagValueStops = SearchValues.Create("\n,= \\\0"u8);
    private static readonly SearchValues<byte> CommentInvalid = SearchValues.Create(ControlsExcept("\t\r"u8));

    private const int InsertionSortLimit = 16;

    // One per thread for TryDecode, which is synchronous: it keeps the first error, and only a bad message writes it.
    [ThreadStatic]
    private static LineErrorSink? MessageErrors;

    /// <summary>
    /// Decodes one message (an MQTT payload) as one unit: every point of it is added, or none. On failure the batch
    /// is as it was and <paramref name="error"/> names the first bad line, e.g. <c>line 2: field "v": missing value</c>.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> payload, in LineProtocolOptions options, PointBatch batch, out IngestError error)
        => TryDecode(payload, options, batch, out error, out _);

    /// <inheritdoc cref="TryDecode(ReadOnlySpan{byte}, in LineProtocolOptions, PointBatch, out IngestError)"/>
    /// <param name="rejectedLines">How many lines were bad (every line is read, so a sender learns of all of them at once).</param>
    public static bool TryDecode(ReadOnlySpan<byte> payload, in LineProtocolOptions options, PointBatch batch, out IngestError error, out int rejectedLines)
    {
        ArgumentNullException.ThrowIfNull(batch);
        LineErrorSink errors = MessageErrors ??= new LineErrorSink(capacity: 1);
        BatchMark before = batch.Mark();
        Parse(payload, 1, options, batch, errors);
        rejectedLines = errors.Count;
        if (rejectedLines == 0)
        {
            error = default;
            return true;
        }

        batch.Truncate(before);
        error = errors.First;
        errors.Reset();
        return false;
    }

    /// <summary>
    /// Decodes every entry of <paramref name="input"/> (the last line may lack its newline), adding good points to
    /// <paramref name="batch"/> and reporting bad lines to <paramref name="errors"/>.
    /// </summary>
    /// <param name="firstLineNumber">The 1-based physical line number of the first byte of <paramref name="input"/>.</param>
    /// <returns>The number of physical lines consumed, blank and comment lines included.</returns>
    public static int Parse(ReadOnlySpan<byte> input, int firstLineNumber, in LineProtocolOptions options, PointBatch batch, LineErrorSink errors)
        => Parse(input, isFinalBlock: true, firstLineNumber, options, batch, errors, out _);

    /// <summary>
    /// Decodes the complete entries of <paramref name="input"/>. With <paramref name="isFinalBlock"/> false, an
    /// entry that is not yet terminated by a newline is left for the next call: <paramref name="bytesConsumed"/>
    /// stops at its first byte and the caller passes it again with the bytes that follow.
    /// </summary>
    /// <returns>The number of physical lines consumed.</returns>
    public static int Parse(
        ReadOnlySpan<byte> input,
        bool isFinalBlock,
        int firstLineNumber,
        in LineProtocolOptions options,
        PointBatch batch,
        LineErrorSink errors,
        out int bytesConsumed)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(errors);

        var context = new EntryContext(options.Precision, FloorToPrecision(options.DefaultTimestamp, options.Precision), isFinalBlock);
        int position = 0;
        int lines = 0;
        while (position < input.Length)
        {
            int line = firstLineNumber + lines;
            var reader = new EntryReader(input, position, line, batch, context);
            EntryOutcome outcome = reader.Read();
            if (outcome == EntryOutcome.Incomplete)
            {
                batch.AbortPoint();
                break;
            }

            if (outcome == EntryOutcome.Error)
            {
                if (!reader.TryFinishError(out int errorEnd))
                {
                    batch.AbortPoint();
                    break;
                }

                Report(input, position, errorEnd, line, reader.Error, batch, errors, options.Precision);
                batch.AbortPoint();
                lines += input[position..errorEnd].Count((byte)'\n');
                position = errorEnd;
                continue;
            }

            lines += reader.Newlines;
            position = reader.End;
        }

        // A final line without its newline is still a line.
        if (isFinalBlock && position == input.Length && position > 0 && input[^1] != (byte)'\n')
        {
            lines++;
        }

        bytesConsumed = position;
        return lines;
    }

    private static void Report(ReadOnlySpan<byte> input, int start, int end, int line, in LineProtocolError error, PointBatch batch, LineErrorSink errors, TimePrecision precision)
    {
        if (errors.IsFull)
        {
            errors.AddCountOnly();
            return;
        }

        int textEnd = end;
        if (textEnd > start && input[textEnd - 1] == (byte)'\n')
        {
            textEnd--;
        }

        if (textEnd > start && input[textEnd - 1] == (byte)'\r')
        {
            textEnd--;
        }

        string reason = LineProtocolErrorText.Describe(input, start, line, error, batch, precision);
        errors.Add(new IngestError(LineProtocolErrorText.KindOf(error.Kind), null, line, reason), input[start..textEnd]);
    }

    /// <summary>The default time at the request's precision: a line written without a timestamp at 's' gets whole seconds.</summary>
    private static long FloorToPrecision(long nanoseconds, TimePrecision precision)
    {
        long unit = precision.NanosecondsPerUnit();
        if (unit == 1)
        {
            return nanoseconds;
        }

        long remainder = nanoseconds % unit;
        if (remainder < 0)
        {
            remainder += unit;
        }

        // Flooring below long.MinValue would wrap; round up instead at that one extreme.
        return nanoseconds < long.MinValue + remainder ? nanoseconds + (unit - remainder) : nanoseconds - remainder;
    }

    private static byte[] WithControls(ReadOnlySpan<byte> extra)
    {
        byte[] values = new byte[33 + extra.Length];
        for (int i = 0; i < 32; i++)
        {
            values[i] = (byte)i;
        }

        values[32] = 0x7F;
        extra.CopyTo(values.AsSpan(33));
        return values;
    }

    private static byte[] ControlsExcept(ReadOnlySpan<byte> allowed)
    {
        var values = new List<byte>(33);
        foreach (byte b in WithControls(default))
        {
            if (!allowed.Contains(b))
            {
                values.Add(b);
            }
        }

        return [.. values];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool IsControl(byte b) => b < 0x20 || b == 0x7F;

    private readonly record struct EntryContext(TimePrecision Precision, long DefaultTimestamp, bool IsFinalBlock);

    private enum EntryOutcome : byte
    {
        Blank,
        Point,
        Error,
        Incomplete,
    }

    private enum EscapeSet : byte
    {
        /// <summary>Measurement: comma and space.</summary>
        Measurement,

        /// <summary>Tag keys, tag values and field keys: comma, equals sign and space.</summary>
        Key,

        /// <summary>String field values: double quote and backslash.</summary>
        String,
    }

    /// <summary>Reads one entry starting at a given offset; a fresh one per entry keeps the state obvious.</summary>
    private ref struct EntryReader
    {
        private readonly ReadOnlySpan<byte> _input;
        private readonly int _start;
        private readonly int _line;
        private readonly PointBatch _batch;
        private readonly EntryContext _context;
        private int _position;

        public EntryReader(ReadOnlySpan<byte> input, int start, int line, PointBatch batch, EntryContext context)
        {
            _input = input;
            _start = start;
            _line = line;
            _batch = batch;
            _context = context;
            _position = start;
        }

        /// <summary>Offset just past the entry (after its newline) when it was read without error.</summary>
        public int End { get; private set; }

        /// <summary>Physical lines the entry used: its newline plus those inside string fields.</summary>
        public int Newlines { get; private set; }

        public LineProtocolError Error;

        public EntryOutcome Read()
        {
            ReadOnlySpan<byte> input = _input;
            int p = _position;
            while (p < input.Length && input[p] == (byte)' ')
            {
                p++;
            }

            if (p == input.Length)
            {
                return FinishBlank(input.Length, newlines: 0);
            }

            byte c = input[p];
            if (c == (byte)'\n')
            {
                return FinishBlank(p + 1, newlines: 1);
            }

            if (c == (byte)'\r')
            {
                if (p + 1 == input.Length)
                {
                    return FinishBlank(input.Length, newlines: 0);
                }

                if (input[p + 1] == (byte)'\n')
                {
                    return FinishBlank(p + 2, newlines: 1);
                }
            }

            if (c == (byte)'#')
            {
                return ReadComment(p);
            }

            _position = p;
            return ReadPoint();
        }

        private EntryOutcome FinishBlank(int end, int newlines)
        {
            if (newlines == 0 && !_context.IsFinalBlock)
            {
                return EntryOutcome.Incomplete;
            }

            End = end;
            Newlines = newlines;
            return EntryOutcome.Blank;
        }

        private EntryOutcome ReadComment(int p)
        {
            ReadOnlySpan<byte> rest = _input[p..];
            int newline = rest.IndexOf((byte)'\n');
            if (newline < 0 && !_context.IsFinalBlock)
            {
                return EntryOutcome.Incomplete;
            }

            ReadOnlySpan<byte> comment = newline < 0 ? rest : rest[..newline];
            int invalid = comment.IndexOfAny(CommentInvalid);
            if (invalid >= 0)
            {
                return Fail(LineProtocolErrorKind.InvalidCharacterInComment, p + invalid);
            }

            End = newline < 0 ? _input.Length : p + newline + 1;
            Newlines = newline < 0 ? 0 : 1;
            return EntryOutcome.Blank;
        }

        private EntryOutcome ReadPoint()
        {
            ReadOnlySpan<byte> input = _input;
            PointBatch batch = _batch;
            int p = _position;

            // Measurement.
            byte c = input[p];
            if (IsControl(c) || c == (byte)',')
            {
                return Fail(LineProtocolErrorKind.InvalidMeasurementStart, p);
            }

            int nameStart = p;
            p = ScanToken(input, p, MeasurementStops, EscapeSet.Measurement, out bool escaped);
            TextSlice measurement = WriteText(input[nameStart..p], escaped, EscapeSet.Measurement);
            batch.BeginPoint(measurement, _line);

            if (p == input.Length)
            {
                return Fail(LineProtocolErrorKind.MissingFieldSet, p);
            }

            c = input[p];
            if (c != (byte)',' && c != (byte)' ')
            {
                return IsLineEnd(input, p)
                    ? Fail(LineProtocolErrorKind.MissingFieldSet, p)
                    : Fail(LineProtocolErrorKind.InvalidCharacterInMeasurement, p, nameStart, p - nameStart);
            }

            // Tag set.
            while (c == (byte)',')
            {
                p++;
                if (p == input.Length)
                {
                    return Fail(LineProtocolErrorKind.MissingTagKey, p);
                }

                c = input[p];
                if (c is (byte)',' or (byte)'=' or (byte)' ' || IsLineEnd(input, p))
                {
                    return Fail(LineProtocolErrorKind.MissingTagKey, p);
                }

                if (IsControl(c))
                {
                    return Fail(LineProtocolErrorKind.InvalidCharacterInTagKey, p);
                }

                int keyStart = p;
                p = ScanToken(input, p, KeyStops, EscapeSet.Key, out escaped);
                int keyLength = p - keyStart;
                if (p == input.Length || input[p] != (byte)'=')
                {
                    return p < input.Length && IsControl(input[p]) && !IsLineEnd(input, p)
                        ? Fail(LineProtocolErrorKind.InvalidCharacterInTagKey, p, keyStart, keyLength)
                        : Fail(LineProtocolErrorKind.MissingTagEquals, p, keyStart, keyLength);
                }

                TextSlice key = WriteText(input.Slice(keyStart, keyLength), escaped, EscapeSet.Key);
                if (IsReservedKey(key))
                {
                    return Fail(LineProtocolErrorKind.ReservedTagKey, keyStart, keyStart, keyLength);
                }

                p++;
                if (p == input.Length || input[p] is (byte)',' or (byte)'=' or (byte)' ' or (byte)'\n')
                {
                    return Fail(LineProtocolErrorKind.MissingTagValue, p, keyStart, keyLength);
                }

                int valueStart = p;
                p = ScanToken(input, p, TagValueStops, EscapeSet.Key, out escaped);
                if (p < input.Length && input[p] == (byte)'=')
                {
                    return Fail(LineProtocolErrorKind.UnescapedEqualsInTagValue, p, keyStart, keyLength, valueStart, p - valueStart);
                }

                TextSlice value = WriteText(input[valueStart..p], escaped, EscapeSet.Key);
                batch.AddTag(key, value);
                if (p == input.Length || input[p] == (byte)'\n')
                {
                    return Fail(LineProtocolErrorKind.MissingFieldSet, p);
                }

                c = input[p];
            }

            if (batch.PendingTagCount > 1 && !SortTagsAndCheckDuplicates(batch, out TextSlice duplicate))
            {
                Error = new LineProtocolError(LineProtocolErrorKind.DuplicateTag, p) { ArenaName = duplicate };
                return EntryOutcome.Error;
            }

            // Field set.
            Debug.Assert(c == (byte)' ', "tags end at a space once the line-end and error cases are handled");
            while (p < input.Length && input[p] == (byte)' ')
            {
                p++;
            }

            if (IsLineEnd(input, p))
            {
                return Fail(LineProtocolErrorKind.MissingFieldSet, p);
            }

            // A small Bloom filter over the field keys: only a clash needs the (quadratic) duplicate check.
            var seenKeys = default(KeyFilter);
            bool maybeDuplicate = false;
            while (true)
            {
                c = input[p];
                if (c is (byte)'=' or (byte)',' or (byte)' ' || IsLineEnd(input, p))
                {
                    return Fail(LineProtocolErrorKind.MissingFieldKey, p);
                }

                if (IsControl(c))
                {
                    return Fail(LineProtocolErrorKind.InvalidCharacterInFieldKey, p);
                }

                int keyStart = p;
                p = ScanToken(input, p, KeyStops, EscapeSet.Key, out escaped);
                int keyLength = p - keyStart;
                if (p == input.Length || input[p] != (byte)'=')
                {
                    return p < input.Length && IsControl(input[p]) && !IsLineEnd(input, p)
                        ? Fail(LineProtocolErrorKind.InvalidCharacterInFieldKey, p, keyStart, keyLength)
                        : Fail(LineProtocolErrorKind.MissingFieldEquals, p, keyStart, keyLength);
                }

                TextSlice key = WriteText(input.Slice(keyStart, keyLength), escaped, EscapeSet.Key);
                if (IsReservedKey(key))
                {
                    return Fail(LineProtocolErrorKind.ReservedFieldKey, keyStart, keyStart, keyLength);
                }

                // Hashed as written: unescaping is one-to-one, so equal keys are equal as written too, and the
                // input is already in cache where the arena copy was only just stored.
                maybeDuplicate |= seenKeys.AddAndCheck(input.Slice(keyStart, keyLength));

                p++;
                if (p == input.Length)
                {
                    return Fail(LineProtocolErrorKind.MissingFieldValue, p, keyStart, keyLength);
                }

                if (input[p] == (byte)'"')
                {
                    // Not "ref p": a local whose address is taken lives in memory for the whole method.
                    int afterString = ReadString(p, out TextSlice text);
                    if (afterString < 0)
                    {
                        if (!_context.IsFinalBlock)
                        {
                            return EntryOutcome.Incomplete;
                        }

                        return Fail(LineProtocolErrorKind.UnterminatedString, p, keyStart, keyLength);
                    }

                    batch.AddString(key, text);
                    p = afterString;
                }
                else
                {
                    int valueStart = p;
                    while (p < input.Length)
                    {
                        byte b = input[p];
                        if (b is (byte)',' or (byte)' ' or (byte)'\n' or (byte)'\r')
                        {
                            break;
                        }

                        p++;
                    }

                    if (p == valueStart)
                    {
                        return Fail(LineProtocolErrorKind.MissingFieldValue, p, keyStart, keyLength);
                    }

                    LineProtocolErrorKind failure = AddValue(batch, key, input[valueStart..p]);
                    if (failure != LineProtocolErrorKind.None)
                    {
                        return Fail(failure, valueStart, keyStart, keyLength, valueStart, p - valueStart);
                    }
                }

                if (p == input.Length)
                {
                    break;
                }

                c = input[p];
                if (c == (byte)',')
                {
                    p++;
                    if (p == input.Length)
                    {
                        return Fail(LineProtocolErrorKind.MissingFieldKey, p);
                    }

                    continue;
                }

                if (c == (byte)' ' || IsLineEnd(input, p))
                {
                    break;
                }

                return Fail(LineProtocolErrorKind.UnexpectedAfterField, p, keyStart, keyLength);
            }

            // Timestamp.
            while (p < input.Length && input[p] == (byte)' ')
            {
                p++;
            }

            long timestamp = _context.DefaultTimestamp;
            if (!IsLineEnd(input, p))
            {
                int timeStart = p;
                while (p < input.Length && input[p] is not ((byte)' ' or (byte)'\n' or (byte)'\r'))
                {
                    p++;
                }

                LineProtocolErrorKind failure = ParseTimestamp(input[timeStart..p], _context.Precision, out timestamp);
                if (failure != LineProtocolErrorKind.None)
                {
                    return Fail(failure, timeStart, valueStart: timeStart, valueLength: p - timeStart);
                }

                while (p < input.Length && input[p] == (byte)' ')
                {
                    p++;
                }

                if (!IsLineEnd(input, p))
                {
                    int garbageStart = p;
                    while (p < input.Length && input[p] is not ((byte)' ' or (byte)'\n'))
                    {
                        p++;
                    }

                    return Fail(LineProtocolErrorKind.UnexpectedAfterTimestamp, garbageStart, valueStart: garbageStart, valueLength: p - garbageStart);
                }
            }

            // p is at the line end: '\n', "\r\n", a final '\r' or the end of the input.
            int end;
            bool terminated = true;
            if (p == input.Length)
            {
                end = p;
                terminated = false;
            }
            else if (input[p] == (byte)'\n')
            {
                end = p + 1;
            }
            else if (p + 1 == input.Length)
            {
                end = p + 1;
                terminated = false;
            }
            else
            {
                end = p + 2;
            }

            if (!terminated && !_context.IsFinalBlock)
            {
                return EntryOutcome.Incomplete;
            }

            // Checked once per entry rather than per token: delimiters are ASCII and so never split a UTF-8
            // sequence, which makes "every token is valid" the same as "the entry is valid".
            ReadOnlySpan<byte> entry = input[_start..p];
            if (!Utf8.IsValid(entry))
            {
                Error = new LineProtocolError(LineProtocolErrorKind.InvalidUtf8, _start + FirstInvalidUtf8(entry)) { ResumeFrom = p };
                return EntryOutcome.Error;
            }

            if (maybeDuplicate)
            {
                PendingFieldDeduplication.KeepLastOfEachKey(batch);
            }

            batch.EndPoint(timestamp);
            End = end;
            Newlines += terminated ? 1 : 0;
            return EntryOutcome.Point;
        }

        /// <summary>Reads a quoted string from its opening quote; returns the offset after the closing one, or -1 when the input ends first.</summary>
        private int ReadString(int quote, out TextSlice text)
        {
            ReadOnlySpan<byte> input = _input;
            int p = quote + 1;
            int contentStart = p;
            bool escaped = false;
            int newlines = 0;
            while (true)
            {
                int found = input[p..].IndexOfAny((byte)'"', (byte)'\\', (byte)'\n');
                if (found < 0)
                {
                    text = default;
                    return -1;
                }

                p += found;
                byte b = input[p];
                if (b == (byte)'"')
                {
                    break;
                }

                if (b == (byte)'\n')
                {
                    newlines++;
                    p++;
                }
                else if (p + 1 < input.Length && input[p + 1] is (byte)'"' or (byte)'\\')
                {
                    escaped = true;
                    p += 2;
                }
                else
                {
                    // A backslash before anything else is a literal backslash.
                    p++;
                }
            }

            text = WriteText(input[contentStart..p], escaped, EscapeSet.String);
            Newlines += newlines;
            return p + 1;
        }

        /// <summary>
        /// Finds where a bad entry ends: the newline after the error (or, for errors found once the whole entry
        /// was read, after the entry). False when that newline has not arrived yet and more input may come.
        /// </summary>
        public readonly bool TryFinishError(out int end)
        {
            int from = Error.ResumeFrom >= 0 ? Error.ResumeFrom : Error.Position;
            int newline = _input[from..].IndexOf((byte)'\n');
            if (newline < 0)
            {
                end = _input.Length;
                return _context.IsFinalBlock;
            }

            end = from + newline + 1;
            return true;
        }

        private EntryOutcome Fail(LineProtocolErrorKind kind, int position, int nameStart = 0, int nameLength = 0, int valueStart = 0, int valueLength = 0)
        {
            Error = new LineProtocolError(kind, position)
            {
                NameStart = nameStart,
                NameLength = nameLength,
                ValueStart = valueStart,
                ValueLength = valueLength,
            };
            return EntryOutcome.Error;
        }

        private readonly TextSlice WriteText(ReadOnlySpan<byte> raw, bool escaped, EscapeSet set)
        {
            if (!escaped)
            {
                return _batch.AppendText(raw);
            }

            // Slow path: unescaping only ever shortens, so the raw length is enough room.
            Span<byte> destination = _batch.ReserveText(raw.Length);
            int written = 0;
            for (int i = 0; i < raw.Length; i++)
            {
                byte b = raw[i];
                if (b == (byte)'\\' && i + 1 < raw.Length && IsEscapable(set, raw[i + 1]))
                {
                    b = raw[++i];
                }

                destination[written++] = b;
            }

            return _batch.CommitText(written);
        }

        private readonly bool IsReservedKey(TextSlice key) => key.Length == 4 && _batch.Text(key).SequenceEqual("time"u8);
    }

    /// <summary>
    /// Advances past a name or tag value: to the first stop byte that is not part of an escape pair. Only a
    /// backslash followed by a byte of <paramref name="set"/> is an escape; any other backslash is literal.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int ScanToken(ReadOnlySpan<byte> input, int position, SearchValues<byte> stops, EscapeSet set, out bool escaped)
    {
        escaped = false;
        while (true)
        {
            int found = input[position..].IndexOfAny(stops);
            if (found < 0)
            {
                return input.Length;
            }

            position += found;
            byte stop = input[position];
            if (stop != (byte)'\\')
            {
                if (stop == 0 && stops == TagValueStops)
                {
                    position++;
                    continue;
                }

                return position;
            }

            if (position + 1 < input.Length && IsEscapable(set, input[position + 1]))
            {
                escaped = true;
                position += 2;
            }
            else
            {
                position++;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsEscapable(EscapeSet set, byte b) => set switch
    {
        EscapeSet.Measurement => b is (byte)',' or (byte)' ',
        EscapeSet.Key => b is (byte)',' or (byte)'=' or (byte)' ',
        _ => b is (byte)'"' or (byte)'\\',
    };

    /// <summary>'\n', "\r\n", a '\r' that ends the input, or the end of the input.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsLineEnd(ReadOnlySpan<byte> input, int p)
    {
        if (p >= input.Length)
        {
            return true;
        }

        byte b = input[p];
        return b == (byte)'\n' || (b == (byte)'\r' && (p + 1 == input.Length || input[p + 1] == (byte)'\n'));
    }

    private static LineProtocolErrorKind AddValue(PointBatch batch, TextSlice key, ReadOnlySpan<byte> token)
    {
        byte first = token[0];
        if (!LineProtocolNumbers.IsDigit(first) && first is not ((byte)'-' or (byte)'.' or (byte)'+'))
        {
            if (LineProtocolNumbers.TryParseBoolean(token, out bool boolean))
            {
                batch.AddBoolean(key, boolean);
                return LineProtocolErrorKind.None;
            }

            return first is (byte)'t' or (byte)'T' or (byte)'f' or (byte)'F'
                ? LineProtocolErrorKind.InvalidBoolean
                : LineProtocolErrorKind.UnrecognizedValue;
        }

        // Numbers: the suffix picks the type.
        byte last = token[^1];
        if (last == (byte)'i')
        {
            NumberStatus status = LineProtocolNumbers.ParseInt64(token[..^1], out long integer);
            if (status == NumberStatus.Ok)
            {
                batch.AddInteger(key, integer);
                return LineProtocolErrorKind.None;
            }

            return status == NumberStatus.OutOfRange ? LineProtocolErrorKind.IntegerOutOfRange : LineProtocolErrorKind.InvalidInteger;
        }

        if (last == (byte)'u')
        {
            NumberStatus status = LineProtocolNumbers.ParseUInt64(token[..^1], out ulong unsigned);
            if (status == NumberStatus.Ok)
            {
                batch.AddUInteger(key, unsigned);
                return LineProtocolErrorKind.None;
            }

            return status == NumberStatus.OutOfRange ? LineProtocolErrorKind.UnsignedOutOfRange : LineProtocolErrorKind.InvalidUnsigned;
        }

        NumberStatus floatStatus = LineProtocolNumbers.ParseFloat(token, out double number);
        if (floatStatus == NumberStatus.Ok)
        {
            batch.AddFloat(key, number);
            return LineProtocolErrorKind.None;
        }

        return floatStatus == NumberStatus.OutOfRange ? LineProtocolErrorKind.FloatOutOfRange : LineProtocolErrorKind.InvalidFloat;
    }

    private static LineProtocolErrorKind ParseTimestamp(ReadOnlySpan<byte> token, TimePrecision precision, out long nanoseconds)
    {
        nanoseconds = 0;
        NumberStatus status = LineProtocolNumbers.ParseInt64(token, out long value);
        if (status != NumberStatus.Ok)
        {
            return status == NumberStatus.OutOfRange ? LineProtocolErrorKind.TimestampOutOfRange : LineProtocolErrorKind.InvalidTimestamp;
        }

        return TimePrecisions.TryToNanoseconds(value, precision, out nanoseconds)
            ? LineProtocolErrorKind.None
            : LineProtocolErrorKind.TimestampOverflow;
    }

    private static int FirstInvalidUtf8(ReadOnlySpan<byte> text)
    {
        int offset = 0;
        while (offset < text.Length)
        {
            if (System.Text.Rune.DecodeFromUtf8(text[offset..], out _, out int consumed) != OperationStatus.Done)
            {
                return offset;
            }

            offset += consumed;
        }

        return text.Length;
    }

    /// <summary>
    /// Sorts the pending point's tags by key (ordinal bytes, the order series keys need anyway) and reports the
    /// first key that occurs twice: InfluxDB rejects a point with a duplicate tag.
    /// </summary>
    private static bool SortTagsAndCheckDuplicates(PointBatch batch, out TextSlice duplicate)
    {
        Span<TagEntry> tags = batch.PendingTags;
        var order = new TagKeyOrder(batch);
        if (tags.Length <= InsertionSortLimit)
        {
            InsertionSort(tags, order);
        }
        else
        {
            HeapSort(tags, order);
        }

        for (int i = 1; i < tags.Length; i++)
        {
            if (KeysEqual(batch, tags[i - 1].Key, tags[i].Key))
            {
                duplicate = tags[i].Key;
                return false;
            }
        }

        duplicate = default;
        return true;
    }

    /// <summary>
    /// A 128-bit Bloom filter with two bits per key, hashed from the key's length and its first, middle and last
    /// bytes. With the handful of fields a point usually has, a false clash is rare (about 2% of 7-field lines),
    /// and a true duplicate always clashes.
    /// </summary>
    private struct KeyFilter
    {
        private ulong _low;
        private ulong _high;

        /// <summary>Adds the key; true when both of its bits were already set (it may have been seen).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool AddAndCheck(ReadOnlySpan<byte> key)
        {
            uint hash = ((uint)key.Length * 0x9E3779B1u) ^ (key[0] * 0x85EBCA6Bu) ^ (key[key.Length >> 1] * 0xC2B2AE35u) ^ (key[^1] * 0x27D4EB2Fu);
            hash ^= hash >> 15;

            // One bit in each half: no branches, and the two bits never coincide.
            ulong low = 1UL << (int)(hash & 63);
            ulong high = 1UL << (int)((hash >> 6) & 63);
            bool seen = (_low & low) != 0 && (_high & high) != 0;
            _low |= low;
            _high |= high;
            return seen;
        }
    }

    private static bool KeysEqual(PointBatch batch, TextSlice a, TextSlice b)
        => a.Length == b.Length && batch.Text(a).SequenceEqual(batch.Text(b));

    private interface IOrder<T>
    {
        bool Less(in T left, in T right);
    }

    private readonly struct TagKeyOrder(PointBatch batch) : IOrder<TagEntry>
    {
        public bool Less(in TagEntry left, in TagEntry right)
        {
            ReadOnlySpan<byte> a = batch.Text(left.Key);
            ReadOnlySpan<byte> b = batch.Text(right.Key);

            // Keys are never empty, and most pairs differ in their first byte.
            return a[0] != b[0] ? a[0] < b[0] : a.SequenceCompareTo(b) < 0;
        }
    }

    private static void InsertionSort<T, TOrder>(Span<T> items, TOrder order)
        where TOrder : IOrder<T>, allows ref struct
    {
        for (int i = 1; i < items.Length; i++)
        {
            T item = items[i];
            int j = i - 1;
            while (j >= 0 && order.Less(item, items[j]))
            {
                items[j + 1] = items[j];
                j--;
            }

            items[j + 1] = item;
        }
    }

    /// <summary>In place and O(n log n) in the worst case: a line with thousands of tags must not cost n².</summary>
    private static void HeapSort<T, TOrder>(Span<T> items, TOrder order)
        where TOrder : IOrder<T>, allows ref struct
    {
        for (int i = (items.Length / 2) - 1; i >= 0; i--)
        {
            SiftDown(items, i, items.Length, order);
        }

        for (int end = items.Length - 1; end > 0; end--)
        {
            (items[0], items[end]) = (items[end], items[0]);
            SiftDown(items, 0, end, order);
        }
    }

    private static void SiftDown<T, TOrder>(Span<T> items, int root, int length, TOrder order)
        where TOrder : IOrder<T>, allows ref struct
    {
        while (true)
        {
            int child = (2 * root) + 1;
            if (child >= length)
            {
                return;
            }

            if (child + 1 < length && order.Less(items[child], items[child + 1]))
            {
                child++;
            }

            if (!order.Less(items[root], items[child]))
            {
                return;
            }

            (items[root], items[child]) = (items[child], items[root]);
            root = child;
        }
    }
}
