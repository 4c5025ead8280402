namespace Plexus.Ingest.Json;

/// <summary>
/// How to read one JSON telemetry message (topic <c>devices/&lt;id&gt;/telemetry[/&lt;measurement&gt;]</c>).
/// The caller takes <see cref="DefaultTimestamp"/> once, when the message arrives, so that every point of a
/// message without <c>ts</c>/<c>time</c> gets the same time and tests can fake it.
/// </summary>
public readonly record struct JsonTelemetryOptions
{
    public const int DefaultMaxDepth = 8;

    /// <summary>The largest <see cref="MaxDepth"/> accepted: a flattened name of 64 parts is already absurd.</summary>
    public const int MaxSupportedDepth = 64;

    /// <param name="measurement">The measurement (table) every point goes to.</param>
    /// <param name="deviceId">The value of the <c>device</c> tag; null adds no tag.</param>
    /// <param name="defaultTimestamp">Nanoseconds since the Unix epoch for points without <c>ts</c>/<c>time</c>.</param>
    public JsonTelemetryOptions(string measurement, string? deviceId, long defaultTimestamp)
    {
        Measurement = measurement;
        DeviceId = deviceId;
        DefaultTimestamp = defaultTimestamp;
    }

    public string Measurement { get; init; }

    public string? DeviceId { get; init; }

    public long DefaultTimestamp { get; init; }

    /// <summary>
    /// When set, a JSON integer literal that fits in 64 bits (<c>21</c>, not <c>21.0</c> or <c>2.1e1</c>) becomes
    /// an integer field. Off by default: a device that sends 21 one time and 21.5 the next would otherwise
    /// create an integer column and then have its float rejected.
    /// </summary>
    public bool IntegersAsIntegers { get; init; }

    /// <summary>
    /// How many levels of objects a point may have, its own object being level 1: with 8, a field name is made
    /// of at most 8 member names joined by '_'.
    /// </summary>
    public int MaxDepth { get; init; } = DefaultMaxDepth;
}
