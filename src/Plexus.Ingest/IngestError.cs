namespace Plexus.Ingest;

/// <summary>What kind of mistake an <see cref="IngestError"/> reports, for callers that count or sort them.</summary>
public enum IngestErrorKind : byte
{
    /// <summary>No error.</summary>
    None,

    /// <summary>Not well-formed: invalid JSON, a line-protocol grammar error, a value or time that does not read, broken CSV quoting.</summary>
    Syntax,

    /// <summary>A value of the wrong kind: a string where a number belongs, an array where an object does.</summary>
    Type,

    /// <summary>A number or time outside what is supported.</summary>
    Range,

    /// <summary>Something required is absent: a value, a field, lat or lon, an id.</summary>
    Missing,

    /// <summary>A name that is not allowed: empty, reserved (<c>time</c>, <c>device</c>, <c>online</c>), repeated, or with characters names cannot hold.</summary>
    Name,

    /// <summary>More than a limit allows: positions or properties per message, nesting depth, rows per file, a value's length.</summary>
    TooLarge,

    /// <summary>Well-formed, but not something this decoder takes: a newer SenML version, an unknown must-understand label, an unknown member.</summary>
    Unsupported,
}

/// <summary>
/// Why a decoder refused its input: the error every decoder of Plexus.Ingest reports (<c>TryDecode</c>,
/// <c>TryParse</c>), made on the cold path only. <see cref="ToString"/> is the sentence users read.
/// </summary>
/// <param name="Kind">What kind of mistake it is.</param>
/// <param name="Path">Where in a JSON payload (<c>$[0].lat</c>), or the column of a CSV row (<c>tags</c>); null when the input as a whole is at fault.</param>
/// <param name="Line">The 1-based line (line protocol, CSV); 0 when the input has no lines to speak of.</param>
/// <param name="Reason">What was wrong and, where there is one, how to fix it.</param>
public readonly record struct IngestError(IngestErrorKind Kind, string? Path, int Line, string Reason)
{
    /// <summary>
    /// <c>line 3: reason</c> when there is a line, else <c>$[0].lat: reason</c> when there is a path, else the reason:
    /// a CSV row's column is in <see cref="Path"/> for the caller, its line is what the sentence names.
    /// </summary>
    public override string ToString() =>
        Line > 0 ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"line {Line}: {Reason}")
        : Path is not null ? $"{Path}: {Reason}"
        : Reason ?? string.Empty;
}
