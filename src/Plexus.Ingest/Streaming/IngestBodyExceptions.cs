namespace Plexus.Ingest.Streaming;

/// <summary>The request's Content-Encoding is not one Plexus decodes (HTTP 415).</summary>
public sealed class UnsupportedContentEncodingException : Exception
{
    public UnsupportedContentEncodingException()
        : base("Unsupported Content-Encoding.")
    {
    }

    public UnsupportedContentEncodingException(string? contentEncoding)
        : base($"Unsupported Content-Encoding \"{contentEncoding}\"; send the body uncompressed or with gzip.")
    {
        ContentEncoding = contentEncoding;
    }

    public UnsupportedContentEncodingException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public string? ContentEncoding { get; }
}

/// <summary>
/// The body could not be decoded at all (for example corrupt or truncated gzip): the whole request is bad
/// (HTTP 400), as opposed to single bad lines, which are reported per line.
/// </summary>
public sealed class InvalidBodyException : Exception
{
    public InvalidBodyException()
        : base("The request body is invalid.")
    {
    }

    public InvalidBodyException(string message)
        : base(message)
    {
    }

    public InvalidBodyException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
