using Microsoft.Extensions.Logging;
using MQTTnet.Diagnostics.Logger;

namespace Plexus.Broker;

/// <summary>
/// MQTTnet's log into ours, under the category <c>Plexus.Broker.MQTTnet</c>. MQTTnet's "info" is per-connection
/// chatter (session started, connection stopped), so it becomes Debug here.
/// </summary>
internal sealed class MqttNetLoggerBridge : IMqttNetLogger
{
    private readonly ILogger _logger;

    public MqttNetLoggerBridge(ILoggerFactory loggerFactory) => _logger = loggerFactory.CreateLogger("Plexus.Broker.MQTTnet");

    public bool IsEnabled => _logger.IsEnabled(LogLevel.Debug) || _logger.IsEnabled(LogLevel.Warning);

    public void Publish(MqttNetLogLevel logLevel, string? source, string? message, object?[]? parameters, Exception? exception)
    {
        LogLevel level = logLevel switch
        {
            MqttNetLogLevel.Verbose => LogLevel.Trace,
            MqttNetLogLevel.Info => LogLevel.Debug,
            // A connection without a CONNECT was closed by the framing (DevicePublishChannel), which logs it once
            // per interval: MQTTnet's line for every such connection would let a flood fill the log.
            MqttNetLogLevel.Warning when message is not null && message.Contains("CONNECT", StringComparison.Ordinal) => LogLevel.Debug,
            MqttNetLogLevel.Warning => LogLevel.Warning,

            // A client that fails the TLS handshake (plain MQTT on the TLS port, an untrusted certificate) is the
            // client's fault, not the broker's.
            _ when exception is System.Security.Authentication.AuthenticationException => LogLevel.Warning,

            // A malformed or out-of-order packet (a second CONNECT, an unknown protocol name) is the client's fault too,
            // and it closes only that connection; at error level a misbehaving client would fill the log.
            _ when exception is MQTTnet.Exceptions.MqttProtocolViolationException => LogLevel.Debug,
            _ => LogLevel.Error,
        };
        if (!_logger.IsEnabled(level))
        {
            return;
        }

        string text = parameters is { Length: > 0 } && message is not null
            ? string.Format(System.Globalization.CultureInfo.InvariantCulture, message, parameters)
            : message ?? string.Empty;
        _logger.Log(level, exception, "[{Source}] {Message}", source, text);
    }
}
