namespace Plexus.Ingest.SenML;

/// <summary>
/// How to read one SenML pack (topic <c>devices/&lt;id&gt;/senml</c>). The caller takes
/// <see cref="ReceiveTime"/> once, when the message arrives: it is the "now" that relative SenML times count
/// from, and tests fake it.
/// </summary>
public readonly record struct SenMlOptions
{
    /// <param name="measurement">The measurement (table) every point goes to.</param>
    /// <param name="deviceId">The value of the <c>device</c> tag; null adds no tag.</param>
    /// <param name="receiveTime">Nanoseconds since the Unix epoch when the pack arrived.</param>
    public SenMlOptions(string measurement, string? deviceId, long receiveTime)
    {
        Measurement = measurement;
        DeviceId = deviceId;
        ReceiveTime = receiveTime;
    }

    public string Measurement { get; init; }

    public string? DeviceId { get; init; }

    public long ReceiveTime { get; init; }

    /// <summary>
    /// When set, a record with a unit (its <c>u</c>, or the pack's <c>bu</c>) also adds a string field
    /// <c>&lt;name&gt;_unit</c>. Off by default: units rarely change, and a column per unit doubles the width.
    /// </summary>
    public bool IncludeUnits { get; init; }
}
