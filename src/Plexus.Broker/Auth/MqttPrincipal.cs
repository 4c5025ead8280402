namespace Plexus.Broker.Auth;

public enum MqttPrincipalKind
{
    /// <summary>An integration or dashboard with an API token: any topic.</summary>
    Application,

    /// <summary>A registered device (user name = device id, password = its token): only <c>devices/&lt;id&gt;/...</c>.</summary>
    Device,
}

/// <summary>Who a connected client is. A class, so the broker can tell one connection's principal from another's by reference.</summary>
public sealed class MqttPrincipal
{
    private MqttPrincipal(MqttPrincipalKind kind, string? deviceId)
    {
        Kind = kind;
        DeviceId = deviceId;
    }

    public static MqttPrincipal Application => new(MqttPrincipalKind.Application, null);

    public MqttPrincipalKind Kind { get; }

    /// <summary>The device id for <see cref="MqttPrincipalKind.Device"/>; null for an application.</summary>
    public string? DeviceId { get; }

    public static MqttPrincipal Device(string deviceId)
    {
        ArgumentException.ThrowIfNullOrEmpty(deviceId);
        return new MqttPrincipal(MqttPrincipalKind.Device, deviceId);
    }

    public override string ToString() => Kind == MqttPrincipalKind.Device ? "device " + DeviceId : "application";
}
