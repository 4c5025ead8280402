using Plexus.Core;

namespace Plexus.Ingest;

/// <summary>
/// Collects the lines a decoder rejected (an HTTP body reports many): counts every one, keeps the first
/// <see cref="Capacity"/> in full, each as the decoder's <see cref="IngestError"/> with the line's text.
/// A request with a million bad lines should cost a counter, not a million strings, so decoders ask
/// <see cref="IsFull"/> before they format a reason and call <see cref="AddCountOnly"/> once it is.
/// </summary>
public sealed class LineErrorSink
{
    public const int DefaultCapacity = 100;

    private readonly List<LineError> _errors;

    public LineErrorSink(int capacity = DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        Capacity = capacity;
        _errors = new List<LineError>(Math.Min(capacity, 16));
    }

    /// <summary>How many errors are kept in full.</summary>
    public int Capacity { get; }

    /// <summary>Every error reported since the last <see cref="Reset"/>, kept or not.</summary>
    public int Count { get; private set; }

    /// <summary>The first <see cref="Capacity"/> errors, in the order they were reported.</summary>
    public IReadOnlyList<LineError> Errors => _errors;

    /// <summary>True when further errors would only be counted.</summary>
    public bool IsFull => _errors.Count >= Capacity;

    /// <summary>True when more errors were reported than kept.</summary>
    public bool IsTruncated => Count > _errors.Count;

    /// <summary>The first error kept since the last <see cref="Reset"/>; default when none was (or the sink keeps none).</summary>
    public IngestError First { get; private set; }

    /// <summary>Reports a rejected line: its error and the line as written, which the answer quotes (cut to <see cref="LineError.MaxTextLength"/>).</summary>
    public void Add(in IngestError error, ReadOnlySpan<byte> text)
    {
        Count++;
        if (IsFull)
        {
            return;
        }

        if (_errors.Count == 0)
        {
            First = error;
        }

        _errors.Add(new LineError(error.Line, LineError.Excerpt(text), error.Reason));
    }

    /// <summary>Counts an error whose details would be dropped anyway (<see cref="IsFull"/> is true).</summary>
    public void AddCountOnly() => Count++;

    public void Reset()
    {
        Count = 0;
        First = default;
        _errors.Clear();
    }
}
