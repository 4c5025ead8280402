using System.Collections.Concurrent;
using MQTTnet.Protocol;
using MQTTnet.Server;
using Plexus.Broker.Auth;
using Plexus.Devices;

namespace Plexus.Broker.Devices;

/// <summary>
/// Turns MQTTnet's connection events of device principals into connectivity history (<c>online</c> rows with a
/// reason) in the live state. Applications' connections are not recorded.
/// </summary>
/// <remarks>
/// Why it is built this way:
/// - The device id comes from the principal of the accepted CONNECT, never from the client id or user name alone.
/// - Takeover (the same client id connects again) races: the new connection's "connected" event may come before or
///   after the old one's "disconnected". The old connection is moved aside when the new one arrives, so each event
///   finds its own connection.
/// - MQTTnet 5.2 reports a keep-alive timeout as an unclean disconnect without saying why. It disconnects after
///   1.5 × keep-alive without packets; an unclean end at least that long after the connection's last packet seen
///   here (CONNECT or PUBLISH) is recorded as keepalive-timeout, otherwise as error. PINGREQs are not seen, so a
///   connection that only pinged for that long and then broke is also recorded as keepalive-timeout.
/// - An unclean end of a connection with a will message is recorded as will (MQTTnet publishes the will then).
/// </remarks>
public sealed class DeviceConnectivity
{
    private readonly DeviceLiveState _state;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, Connection> _pending = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Connection> _active = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Connection> _replaced = new(StringComparer.Ordinal);

    public DeviceConnectivity(DeviceLiveState state, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(time);
        _state = state;
        _time = time;
    }

    /// <summary>A CONNECT was accepted; its "connected" event follows.</summary>
    public void Accepted(string clientId, MqttPrincipal principal, int keepAliveSeconds, bool hasWill)
    {
        ArgumentNullException.ThrowIfNull(principal);
        if (principal.Kind != MqttPrincipalKind.Device || principal.DeviceId is null)
        {
            _pending.TryRemove(clientId, out _);
            return;
        }

        _pending[clientId] = new Connection(principal.DeviceId, keepAliveSeconds, hasWill, _time.GetTimestamp());
    }

    public async Task ConnectedAsync(string clientId)
    {
        if (!_pending.TryRemove(clientId, out var connection))
        {
            return;
        }

        if (_active.TryGetValue(clientId, out var previous))
        {
            // Its "disconnected" (takeover) has not come yet.
            _replaced[clientId] = previous;
        }

        _active[clientId] = connection;
        await _state.RecordConnectedAsync(connection.Device);
    }

    /// <summary>A device published: the connection is alive, and the device was seen.</summary>
    public void Activity(string clientId)
    {
        if (_active.TryGetValue(clientId, out var connection))
        {
            Volatile.Write(ref connection.LastPacket, _time.GetTimestamp());
        }
    }

    public async Task DisconnectedAsync(ClientDisconnectedEventArgs e)
    {
        ArgumentNullException.ThrowIfNull(e);
        Connection? connection;
        if (e.DisconnectType == MqttClientDisconnectType.Takeover)
        {
            if (!_replaced.TryRemove(e.ClientId, out connection) && !_active.TryRemove(e.ClientId, out connection))
            {
                return;
            }
        }
        else if (!_active.TryRemove(e.ClientId, out connection))
        {
            return;
        }

        await _state.RecordDisconnectedAsync(connection.Device, ReasonOf(e, connection));
    }

    private string ReasonOf(ClientDisconnectedEventArgs e, Connection connection)
    {
        switch (e.DisconnectType)
        {
            case MqttClientDisconnectType.Takeover:
                return ConnectivityReasons.Takeover;
            case MqttClientDisconnectType.Clean:
                return e.ReasonCode == MqttDisconnectReasonCode.DisconnectWithWillMessage && connection.HasWill
                    ? ConnectivityReasons.Will
                    : ConnectivityReasons.Disconnect;
        }

        if (connection.HasWill)
        {
            return ConnectivityReasons.Will;
        }

        var silent = _time.GetElapsedTime(Volatile.Read(ref connection.LastPacket));
        return connection.KeepAliveSeconds > 0 && silent.TotalSeconds >= connection.KeepAliveSeconds * 1.5
            ? ConnectivityReasons.KeepAliveTimeout
            : ConnectivityReasons.Error;
    }

    private sealed class Connection(string device, int keepAliveSeconds, bool hasWill, long connectedAt)
    {
        public long LastPacket = connectedAt;

        public string Device { get; } = device;

        public int KeepAliveSeconds { get; } = keepAliveSeconds;

        public bool HasWill { get; } = hasWill;
    }
}
