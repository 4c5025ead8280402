using System.Net;
using Microsoft.Extensions.Logging;

namespace Plexus.Broker.Transport;

/// <summary>What a connection may send before and after its CONNECT (docs/mqtt.md, input limits).</summary>
/// <param name="MaxConnectSize">Largest first packet, which must be a CONNECT (a will travels in it).</param>
/// <param name="MaxPacketSize">Largest packet after the CONNECT; the fixed header is enough to refuse one.</param>
/// <param name="ConnectTimeout">From accept until the whole CONNECT arrived, TLS handshake included.</param>
/// <param name="ReceiveMaximum">MQTT 5: QoS 1/2 PUBLISHes a client may have unacknowledged; one more is DISCONNECT 0x93.</param>
/// <param name="TopicAliasMaximum">MQTT 5: the highest topic alias a client may set; 0 or above is DISCONNECT 0x94.</param>
/// <param name="MaxKeepAlive">MQTT 5: the longest keep-alive in seconds; a CONNECT asking more, or none, gets this as Server Keep Alive.</param>
internal readonly record struct MqttInputLimits(
    int MaxConnectSize,
    int MaxPacketSize,
    TimeSpan ConnectTimeout,
    ushort ReceiveMaximum = PlexusBrokerOptions.DefaultReceiveMaximum,
    ushort TopicAliasMaximum = PlexusBrokerOptions.DefaultTopicAliasMaximum,
    ushort MaxKeepAlive = PlexusBrokerOptions.DefaultMaxKeepAlive);

/// <summary>
/// The connection caps of the broker, over its TCP, TLS and WebSocket listeners together: at most
/// <c>maxConnections</c> open at once, and at most <c>maxPerAddress</c> from one IP address. A connection over a cap
/// is closed at accept, before a byte of it is read; one warning line says so at most every
/// <see cref="LogInterval"/>, with the count of others refused meanwhile.
/// </summary>
internal sealed class ConnectionAdmission
{
    public static readonly TimeSpan LogInterval = TimeSpan.FromSeconds(10);

    private readonly int _maxConnections;
    private readonly int _maxPerAddress;
    private readonly ILogger _logger;
    private readonly RateLimitedWarning _refusals;
    private readonly Lock _lock = new();
    private readonly Dictionary<IPAddress, int> _perAddress = [];
    private int _open;

    public ConnectionAdmission(int maxConnections, int maxPerAddress, ILogger logger, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxConnections, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPerAddress, 1);
        _maxConnections = maxConnections;
        _maxPerAddress = maxPerAddress;
        _logger = logger;
        _refusals = new RateLimitedWarning(time, LogInterval);
    }

    /// <summary>Connections open now, over every listener.</summary>
    public int Open => Volatile.Read(ref _open);

    /// <summary>Connections refused over a cap since start.</summary>
    public long Refused => _refusals.Total;

    /// <summary>Admits a connection from <paramref name="remote"/>, or logs (rate-limited) and returns null; dispose the lease when it ends.</summary>
    public IDisposable? TryAdmit(EndPoint? remote, string transport)
    {
        IPAddress address = AddressOf(remote);
        string? refusal = null;
        lock (_lock)
        {
            int fromAddress = _perAddress.GetValueOrDefault(address);
            if (_open >= _maxConnections)
            {
                refusal = $"{_open} MQTT connections are open, the limit is {_maxConnections} (--mqtt-max-connections)";
            }
            else if (fromAddress >= _maxPerAddress)
            {
                refusal = $"{fromAddress} MQTT connections are open from {address}, the limit is {_maxPerAddress} per IP address (--mqtt-max-connections-per-ip)";
            }
            else
            {
                _perAddress[address] = fromAddress + 1;
                _open++;
            }
        }

        if (refusal is null)
        {
            return new Lease(this, address);
        }

        if (_refusals.ShouldLog(out long suppressed))
        {
            TransportLog.ConnectionRefused(_logger, transport, remote?.ToString() ?? "?", refusal, suppressed);
        }

        return null;
    }

    private void Release(IPAddress address)
    {
        lock (_lock)
        {
            _open--;
            int left = _perAddress[address] - 1;
            if (left == 0)
            {
                _perAddress.Remove(address);
            }
            else
            {
                _perAddress[address] = left;
            }
        }
    }

    private static IPAddress AddressOf(EndPoint? remote) => remote is IPEndPoint { Address: var address }
        ? address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address
        : IPAddress.None;

    private sealed class Lease(ConnectionAdmission owner, IPAddress address) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                owner.Release(address);
            }
        }
    }
}

/// <summary>At most one warning per interval for an event that a flood repeats, with the count of those not logged.</summary>
internal sealed class RateLimitedWarning(TimeProvider time, TimeSpan interval)
{
    private readonly long _interval = (long)(interval.TotalSeconds * time.TimestampFrequency);
    private long _next = long.MinValue;
    private long _suppressed;
    private long _total;

    public long Total => Interlocked.Read(ref _total);

    /// <summary>Counts one event; true when it should be logged, with the number of events not logged since the last.</summary>
    public bool ShouldLog(out long suppressed)
    {
        Interlocked.Increment(ref _total);
        long now = time.GetTimestamp();
        long next = Interlocked.Read(ref _next);
        if (now < next || Interlocked.CompareExchange(ref _next, now + _interval, next) != next)
        {
            Interlocked.Increment(ref _suppressed);
            suppressed = 0;
            return false;
        }

        suppressed = Interlocked.Exchange(ref _suppressed, 0);
        return true;
    }
}
