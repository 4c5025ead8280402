using Microsoft.Extensions.Logging;

namespace Plexus.Broker.Auth;

/// <summary>Log messages of the MQTT identity and topic ACL.</summary>
internal static partial class MqttAclLog
{
    [LoggerMessage(EventId = 2101, Level = LogLevel.Warning, Message = "MQTT publish refused (not authorized): {Principal} (client {ClientId}) may not publish to {Topic} (logged once per connection)")]
    public static partial void PublishRefused(ILogger logger, string principal, string clientId, string topic);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Warning, Message = "MQTT subscription refused (not authorized): {Principal} (client {ClientId}) may not subscribe to {Filter} (logged once per connection)")]
    public static partial void SubscribeRefused(ILogger logger, string principal, string clientId, string filter);

    [LoggerMessage(EventId = 2103, Level = LogLevel.Information, Message = "MQTT device {DeviceId} disconnected (client {ClientId}): its token was rotated or the device removed")]
    public static partial void DeviceDisconnected(ILogger logger, string deviceId, string clientId);

    [LoggerMessage(EventId = 2104, Level = LogLevel.Debug, Message = "MQTT device {DeviceId} (client {ClientId}) not disconnected: {Reason}")]
    public static partial void DeviceDisconnectFailed(ILogger logger, string deviceId, string clientId, string reason);

    [LoggerMessage(EventId = 2105, Level = LogLevel.Information, Message = "MQTT application {TokenName} disconnected (client {ClientId}): its API token was revoked")]
    public static partial void ApplicationDisconnected(ILogger logger, string tokenName, string clientId);

    [LoggerMessage(EventId = 2106, Level = LogLevel.Information, Message = "MQTT device {DeviceId} auto-provisioned (client {ClientId}): registered with the provisioning key")]
    public static partial void DeviceProvisioned(ILogger logger, string deviceId, string clientId);

    [LoggerMessage(EventId = 2107, Level = LogLevel.Warning, Message = "MQTT auto-provisioning refused for device id \"{DeviceId}\" (client {ClientId}): {Reason}")]
    public static partial void ProvisioningRefused(ILogger logger, string deviceId, string clientId, string reason);

    [LoggerMessage(EventId = 2108, Level = LogLevel.Warning, Message = "MQTT connection refused (not authorized): client id {ClientId} belongs to the session of {Owner}; {Principal} from {RemoteEndPoint} may not resume or take it over (each client needs its own client id)")]
    public static partial void ClientIdTaken(ILogger logger, string clientId, string principal, string owner, string? remoteEndPoint);
}
