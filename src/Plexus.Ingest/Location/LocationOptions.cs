namespace Plexus.Ingest.Location;

/// <summary>
/// How to read one location message (topic <c>devices/&lt;id&gt;/location</c>). The caller takes
/// <paramref name="DefaultTimestamp"/> once, when the message arrives, so that every position of a message without
/// <c>ts</c> gets the same time and tests can fake it.
/// </summary>
/// <param name="DeviceId">The value of the <c>device</c> tag every position carries.</param>
/// <param name="DefaultTimestamp">Nanoseconds since the Unix epoch for positions without <c>ts</c>/<c>time</c>.</param>
public readonly record struct LocationOptions(string DeviceId, long DefaultTimestamp)
{
    /// <summary>The measurement (table) positions go to.</summary>
    public string Measurement { get; init; } = "positions";
}
