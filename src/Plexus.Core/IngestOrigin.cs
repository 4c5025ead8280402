namespace Plexus.Core;

/// <summary>How points came in: the ingest source every write names, so that what observes stored data knows it.</summary>
public enum IngestSource
{
    /// <summary>Not named by the writer (library use, tests).</summary>
    Unspecified,

    /// <summary>An HTTP write (InfluxDB line protocol on <c>/write</c>, <c>/api/v2/write</c>).</summary>
    HttpWrite,

    /// <summary>A device's message over HTTP (<c>/api/v1/devices/{id}/…</c>).</summary>
    HttpDevice,

    /// <summary>A device's (or a writing application's) message on a device topic over MQTT.</summary>
    Mqtt,

    /// <summary>Plexus's own data: the live state's history and dead letters.</summary>
    Internal,

    /// <summary>Points derived by rule actions (docs/rules.md#derived-points); the rule engine does not evaluate them.</summary>
    Rules,
}

/// <summary>The source of a write and, where one principal sent all of it, who: a device id or a token's name.</summary>
public readonly record struct IngestOrigin(IngestSource Source, string? Principal = null, string? DeviceId = null)
{
    public static readonly IngestOrigin Internal = new(IngestSource.Internal);

    public override string ToString() => DeviceId is not null ? $"{Source} (device {DeviceId})" : Principal is not null ? $"{Source} ({Principal})" : Source.ToString();
}
