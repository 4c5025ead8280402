using Plexus.Core;

namespace Plexus.Ingest.LineProtocol;

internal enum LineProtocolErrorKind : byte
{
    None,
    InvalidMeasurementStart,
    InvalidCharacterInMeasurement,
    MissingTagKey,
    InvalidCharacterInTagKey,
    MissingTagEquals,
    MissingTagValue,
    UnescapedEqualsInTagValue,
    DuplicateTag,
    ReservedTagKey,
    MissingFieldSet,
    MissingFieldKey,
    InvalidCharacterInFieldKey,
    MissingFieldEquals,
    MissingFieldValue,
    ReservedFieldKey,
    InvalidFloat,
    FloatOutOfRange,
    InvalidInteger,
    IntegerOutOfRange,
    InvalidUnsigned,
    UnsignedOutOfRange,
    InvalidBoolean,
    UnrecognizedValue,
    UnterminatedString,
    UnexpectedAfterField,
    InvalidTimestamp,
    TimestampOutOfRange,
    TimestampOverflow,
    UnexpectedAfterTimestamp,
    InvalidUtf8,
    InvalidCharacterInComment,
}

/// <summary>
/// What went wrong in an entry, as offsets into the input: the hot path records a few integers and only the
/// cold path (<see cref="LineProtocolErrorText"/>) turns them into a sentence.
/// </summary>
internal readonly struct LineProtocolError
{
    public LineProtocolError(LineProtocolErrorKind kind, int position)
    {
        Kind = kind;
        Position = position;
        ResumeFrom = -1;
    }

    public LineProtocolErrorKind Kind { get; }

    /// <summary>Offset of the offending byte in the input.</summary>
    public int Position { get; }

    /// <summary>The key as written (escaped), when the error belongs to a tag or field.</summary>
    public int NameStart { get; init; }

    public int NameLength { get; init; }

    /// <summary>The value or timestamp as written.</summary>
    public int ValueStart { get; init; }

    public int ValueLength { get; init; }

    /// <summary>A name only found in the batch's arena (duplicate tags are found after unescaping).</summary>
    public TextSlice ArenaName { get; init; }

    /// <summary>Where to look for the newline that ends the bad entry; -1 means <see cref="Position"/>.</summary>
    public int ResumeFrom { get; init; }
}
