namespace Plexus.Devices;

/// <summary>
/// The SQL objects of device data in namespace <c>main</c> (docs/sql.md#device-data). Their columns are a contract
/// other parts of Plexus and users' queries rely on.
/// </summary>
public static class DeviceDataNames
{
    public const string Namespace = "main";

    /// <summary>Measurement: time, device (tag), lat, lon, alt, speed, heading, accuracy (DOUBLE).</summary>
    public const string Positions = "positions";

    /// <summary>Measurement: time, device, property (tags), value (VARCHAR), value_num (DOUBLE), reason (VARCHAR).</summary>
    public const string StateHistory = "state_history";

    /// <summary>Measurement: time, device (tag), topic, reason, payload, content_type (VARCHAR).</summary>
    public const string DeadLetters = "dead_letters";

    /// <summary>View over the live state snapshot and the registry: one row per registered or seen device.</summary>
    public const string DeviceState = "device_state";

    /// <summary>The state_history property of connectivity rows.</summary>
    public const string OnlineProperty = "online";

    /// <summary>The physical table behind <see cref="DeviceState"/>.</summary>
    public const string DeviceStateTable = "_plexus.device_state";
}

/// <summary>Why a device's connectivity changed, as written to <c>state_history.reason</c>.</summary>
public static class ConnectivityReasons
{
    public const string Connect = "connect";
    public const string Disconnect = "disconnect";
    public const string KeepAliveTimeout = "keepalive-timeout";
    public const string Takeover = "takeover";
    public const string Will = "will";
    public const string Error = "error";
    public const string ServerStop = "server-stop";
    public const string ServerRestart = "server-restart";
}
