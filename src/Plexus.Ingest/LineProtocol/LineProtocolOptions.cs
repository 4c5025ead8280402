using Plexus.Core;

namespace Plexus.Ingest.LineProtocol;

/// <summary>
/// How to read one request: the unit its timestamps are written in, and the time (nanoseconds since the Unix
/// epoch) given to lines that carry none. The caller takes that time once, when the request arrives, so that
/// every point of a request without timestamps gets the same one and tests can fake it.
/// </summary>
public readonly record struct LineProtocolOptions(TimePrecision Precision, long DefaultTimestamp);
