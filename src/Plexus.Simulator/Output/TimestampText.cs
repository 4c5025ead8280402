namespace Plexus.Simulator;

/// <summary>
/// A timestamp's text, formatted once per distinct value: rows come in runs with one timestamp (a tick's block of
/// trucks), so almost every row is a cache hit.
/// </summary>
internal sealed class TimestampText(bool rfc3339)
{
    private readonly byte[] _bytes = new byte[40];
    private long _timestamp = long.MinValue;
    private int _length;

    /// <summary>Unix nanoseconds (<c>1451606400000000000</c>) or RFC 3339 UTC (<c>2016-01-01T00:00:00Z</c>).</summary>
    public ReadOnlySpan<byte> Get(long timestamp)
    {
        if (timestamp != _timestamp)
        {
            _length = rfc3339 ? Utf8Text.WriteRfc3339(_bytes, timestamp) : Utf8Text.WriteInt64(_bytes, timestamp);
            _timestamp = timestamp;
        }

        return _bytes.AsSpan(0, _length);
    }
}
