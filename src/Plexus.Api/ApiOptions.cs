namespace Plexus.Api;

public sealed class ApiOptions
{
    /// <summary>Largest write body accepted, counted after decompression (InfluxDB's default is 25 MB).</summary>
    public long MaxBodyBytes { get; init; } = 25_000_000;

    /// <summary>Rejected lines listed in a 400 response; the count covers all of them.</summary>
    public int MaxReportedErrors { get; init; } = 100;
}
