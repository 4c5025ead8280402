namespace Plexus.Server;

/// <summary>Everything `plexus serve` can be told; each has a flag, an environment variable and a config-file key (docs/configuration.md).</summary>
public sealed record PlexusServerOptions
{
    public const string DefaultDataDirectory = "plexus-data";
    public const string DefaultHttpEndpoint = "127.0.0.1:8086";
    public const string DefaultMqttEndpoint = "127.0.0.1:1883";
    public const string MqttOff = "off";

    public string DataDirectory { get; init; } = DefaultDataDirectory;

    /// <summary>host:port to listen on; port 0 picks a free port (tests).</summary>
    public string HttpEndpoint { get; init; } = DefaultHttpEndpoint;

    /// <summary>host:port of the embedded MQTT broker; port 0 picks a free port (tests); "off" (or null) runs no broker.</summary>
    public string? MqttEndpoint { get; init; } = DefaultMqttEndpoint;

    /// <summary>Admin token to use (its hash replaces the stored one); null keeps the stored token or generates one.</summary>
    public string? AdminToken { get; init; }

    public long MaxBodyBytes { get; init; } = 25_000_000;

    public TimeSpan QueryTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public int QueryMaxRows { get; init; } = 100_000;

    /// <summary>DuckDB memory limit such as "2GB"; null is DuckDB's default (80 % of RAM).</summary>
    public string? MemoryLimit { get; init; }

    /// <summary>
    /// The tag whose value is the device key in measurements (issue 5): <c>device</c>, or per namespace
    /// <c>device,fleet=name</c> (see <c>Plexus.Devices.DeviceTagMap</c>).
    /// </summary>
    public string DeviceTag { get; init; } = "device";

    /// <summary>How long shutdown waits for requests in flight before closing their connections.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(15);
}
