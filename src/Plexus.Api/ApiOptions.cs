namespace Plexus.Api;

public sealed class ApiOptions
{
    /// <summary>Largest write body accepted, counted after decompression (InfluxDB's default is 25 MB).</summary>
    public long MaxBodyBytes { get; init; } = 25_000_000;

    /// <summary>Largest device message on the HTTP device API: the MQTT limit (<c>--mqtt-max-message-size</c>), one rule for a device's message whatever carries it.</summary>
    public long MaxDeviceMessageBytes { get; init; } = 256 * 1024;

    /// <summary>Largest import body (<c>--max-import-size</c>), counted after decompression: an import streams, so this bounds time and disk, not memory.</summary>
    public long MaxImportBytes { get; init; } = DefaultMaxImportBytes;

    public const long DefaultMaxImportBytes = 10L * 1024 * 1024 * 1024;

    /// <summary>Rejected lines listed in a 400 response; the count covers all of them.</summary>
    public int MaxReportedErrors { get; init; } = 100;

    /// <summary>Serve <c>GET /metrics</c> without a token (<c>--metrics-public</c>), for scrapers on a trusted network.</summary>
    public bool MetricsPublic { get; init; }

    /// <summary>The tile server behind the console's map (<c>--map-tiles</c>); null draws the packaged land outline.</summary>
    public MapTiles? MapTiles { get; init; }
}
