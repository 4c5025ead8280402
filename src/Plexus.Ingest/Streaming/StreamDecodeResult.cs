namespace Plexus.Ingest.Streaming;

public enum StreamDecodeOutcome
{
    /// <summary>The whole body was read and decoded.</summary>
    Ok,

    /// <summary>
    /// The body was longer than the limit; reading stopped there (HTTP 413). The batch holds the points decoded
    /// before the limit and the caller is expected to discard them.
    /// </summary>
    TooLarge,
}

/// <param name="Lines">Physical lines decoded, blank and comment lines included.</param>
/// <param name="Bytes">Bytes read from the (decompressed) body.</param>
public readonly record struct StreamDecodeResult(int Lines, long Bytes, StreamDecodeOutcome Outcome);
