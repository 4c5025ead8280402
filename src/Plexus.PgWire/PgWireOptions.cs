using System.Net;
using System.Security.Cryptography.X509Certificates;

namespace Plexus.PgWire;

/// <summary>Who a password (an API token) belongs to, for the wire listener: its name and the namespaces it may read.</summary>
/// <param name="Namespaces">The namespaces a limited token may read; null for every one.</param>
public sealed record PgPrincipal(string Name, IReadOnlyList<string>? Namespaces)
{
    /// <summary>
    /// Whether the token the connection authenticated with still grants reading: checked before each statement, so a
    /// token revoked while a client stays connected reads nothing more.
    /// </summary>
    public Func<bool> StillAuthorized { get; init; } = () => true;
}

/// <summary>The PostgreSQL wire-protocol listener's settings (docs/postgres.md, docs/configuration.md).</summary>
public sealed class PgWireOptions
{
    /// <summary>
    /// 5433, not PostgreSQL's 5432: a developer's machine often runs PostgreSQL itself, and a Plexus that took its port
    /// would either fail to start or, started first, take connections meant for PostgreSQL.
    /// </summary>
    public const int DefaultPort = 5433;

    public const int DefaultMaxConnections = 256;
    public const int DefaultMaxConnectionsPerIp = 64;
    public const int DefaultMaxMessageSize = 1024 * 1024;
    public static readonly TimeSpan DefaultAuthenticationTimeout = TimeSpan.FromSeconds(10);

    public required IPEndPoint Endpoint { get; init; }

    /// <summary>The TLS certificate answered to SSLRequest; null answers 'N' (no TLS).</summary>
    public X509Certificate2? Certificate { get; init; }

    /// <summary>
    /// Whether a client on the loopback address may send its token as a cleartext password without TLS. Off, a
    /// connection without TLS is refused before it sends its password.
    /// </summary>
    public bool AllowLoopbackCleartext { get; init; }

    /// <summary>Connections open at once; more are refused at accept with an ErrorResponse (53300).</summary>
    public int MaxConnections { get; init; } = DefaultMaxConnections;

    /// <summary>Connections open at once from one IP address.</summary>
    public int MaxConnectionsPerIp { get; init; } = DefaultMaxConnectionsPerIp;

    /// <summary>Time from accept until authentication is done, TLS handshake included.</summary>
    public TimeSpan AuthenticationTimeout { get; init; } = DefaultAuthenticationTimeout;

    /// <summary>Largest message a client may send (a query's text, a Bind's parameters); a larger one ends the connection.</summary>
    public int MaxMessageSize { get; init; } = DefaultMaxMessageSize;

    /// <summary>Checks a password: the principal of a token that may read, or null.</summary>
    public required Func<string, PgPrincipal?> Authenticate { get; init; }
}
