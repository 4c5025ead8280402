using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using Microsoft.Extensions.Logging;
using Plexus.PgWire.Protocol;
using Plexus.PgWire.Sql;
using Plexus.Query;

namespace Plexus.PgWire;

/// <summary>The startup and authentication exchange: SSLRequest and TLS, the token as password, the namespace the database names.</summary>
internal sealed partial class PgConnection
{
    private async Task<bool> StartupAsync()
    {
        using var deadline = new CancellationTokenSource(Options.AuthenticationTimeout, _server.Time);
        using var startup = CancellationTokenSource.CreateLinkedTokenSource(_closing, deadline.Token);
        try
        {
            return await StartupAsync(startup.Token);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !_closing.IsCancellationRequested)
        {
            _server.Logger.LogInformation("PostgreSQL connection from {Remote} did not authenticate within {Timeout}", _socket.RemoteEndPoint, Options.AuthenticationTimeout);
            await TryWriteFatalAsync("08006", $"authentication did not finish within {Options.AuthenticationTimeout.TotalSeconds:0.###} s (--pg-auth-timeout)");
            return false;
        }
    }

    private async Task<bool> StartupAsync(CancellationToken cancellationToken)
    {
        bool negotiated = false;
        while (true)
        {
            byte[] packet = await ReadStartupPacketAsync(cancellationToken);
            int code = BinaryPrimitives.ReadInt32BigEndian(packet);
            switch (code)
            {
                case SslRequestCode when !negotiated:
                    negotiated = true;
                    if (Options.Certificate is null)
                    {
                        await WriteRawAsync((byte)'N', cancellationToken);
                        continue;
                    }

                    await WriteRawAsync((byte)'S', cancellationToken);
                    await StartTlsAsync(cancellationToken);
                    continue;
                case GssEncRequestCode when !negotiated:
                    negotiated = true;
                    await WriteRawAsync((byte)'N', cancellationToken);
                    continue;
                case CancelRequestCode when packet.Length == 12:
                    _server.Cancel(BinaryPrimitives.ReadInt32BigEndian(packet.AsSpan(4)), BinaryPrimitives.ReadInt32BigEndian(packet.AsSpan(8)));
                    return false;
                case ProtocolVersion3:
                    return await AuthenticateAsync(ReadStartupParameters(packet), cancellationToken);
                default:
                    if (code >> 16 == 3)
                    {
                        // A newer 3.x minor version: PostgreSQL answers with the newest it speaks, and so do we.
                        var parameters = ReadStartupParameters(packet);
                        _out.StartMessage((byte)'v');
                        _out.WriteInt32(ProtocolVersion3);
                        var unknown = parameters.Keys.Where(key => key.StartsWith("_pq_.", StringComparison.Ordinal)).ToList();
                        _out.WriteInt32(unknown.Count);
                        foreach (string name in unknown)
                        {
                            _out.WriteCString(name);
                        }

                        _out.EndMessage();
                        return await AuthenticateAsync(parameters, cancellationToken);
                    }

                    throw new PgProtocolException($"unsupported startup request {code >> 16}.{code & 0xFFFF}: Plexus speaks PostgreSQL protocol 3.0", PgErrorCodes.FeatureNotSupported);
            }
        }
    }

    private async Task StartTlsAsync(CancellationToken cancellationToken)
    {
        // Bytes sent after SSLRequest and before the handshake would be read as if they came over TLS: a client may not
        // send any (the man-in-the-middle injection PostgreSQL fixed in CVE-2021-23214).
        if (_input.TryRead(out var pending))
        {
            long buffered = pending.Buffer.Length;
            _input.AdvanceTo(pending.Buffer.Start);
            if (buffered > 0)
            {
                throw new PgProtocolException("data arrived after SSLRequest before the TLS handshake");
            }
        }

        await _input.CompleteAsync();
        var tls = new SslStream(_stream, leaveInnerStreamOpen: false);
        await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = Options.Certificate }, cancellationToken);
        _stream = tls;
        _input = PipeReader.Create(_stream, new StreamPipeReaderOptions(leaveOpen: true));
        _tls = true;
    }

    private async Task<bool> AuthenticateAsync(Dictionary<string, string> parameters, CancellationToken cancellationToken)
    {
        string user = parameters.GetValueOrDefault("user") ?? "";
        string database = parameters.GetValueOrDefault("database") ?? "";
        if (!_tls && !(Options.AllowLoopbackCleartext && IsLoopback(_socket.RemoteEndPoint)))
        {
            string how = Options.Certificate is null
                ? "this server has no TLS certificate for PostgreSQL (--pg-tls-cert and --pg-tls-key); on the same machine, --pg-allow-loopback-cleartext true allows a password without TLS over 127.0.0.1"
                : "connect with TLS (sslmode=require)";
            await WriteFatalAsync(PgErrorCodes.InvalidAuthorization, $"the password (an API token) is only accepted over TLS: {how}");
            return false;
        }

        _out.StartMessage((byte)'R');
        _out.WriteInt32(3);
        _out.EndMessage();
        await FlushAsync(cancellationToken);
        var (type, payload) = await ReadMessageAsync(cancellationToken);
        if (type != (byte)'p')
        {
            throw new PgProtocolException($"expected a password message, got message type '{(char)type}'");
        }

        string password = new PgMessageReader(payload).ReadCString();
        if (Options.Authenticate(password) is not { } principal)
        {
            _server.Logger.LogInformation("PostgreSQL authentication failed for user {User} from {Remote}", user, _socket.RemoteEndPoint);
            await WriteFatalAsync(PgErrorCodes.InvalidPassword, $"password authentication failed for user \"{user}\": the password must be a Plexus API token with scope read, write or admin");
            return false;
        }

        _principal = principal;
        if (!await ChooseNamespaceAsync(database, user, cancellationToken))
        {
            return false;
        }

        _session = new PgSession(user, parameters.GetValueOrDefault("application_name") ?? "", _namespace ?? "main");
        foreach (var (name, value) in parameters)
        {
            if (name is not ("user" or "database" or "options" or "replication") && !name.StartsWith("_pq_.", StringComparison.Ordinal))
            {
                try
                {
                    _session.Set(name, value);
                }
                catch (PgException)
                {
                    // A startup parameter the session cannot take (a read-write default, another encoding) is left as it is.
                }
            }
        }

        _out.StartMessage((byte)'R');
        _out.WriteInt32(0);
        _out.EndMessage();
        foreach (string name in PgSession.Reported)
        {
            WriteParameterStatus(name, _session.Get(name));
        }

        _out.StartMessage((byte)'K');
        _out.WriteInt32(ProcessId);
        _out.WriteInt32(SecretKey);
        _out.EndMessage();
        WriteReadyForQuery();
        await FlushAsync(cancellationToken);
        return true;
    }

    /// <summary>
    /// The database name is the namespace; the names clients send when none is chosen (postgres, plexus, main, the
    /// user name psql defaults to) mean the token's first namespace, or main.
    /// </summary>
    private async Task<bool> ChooseNamespaceAsync(string database, string user, CancellationToken cancellationToken)
    {
        string? fallback = _principal.Namespaces?[0];
        if (database is "" or "postgres" or "plexus" or "main" && _principal.Namespaces is null)
        {
            _namespace = null;
            return true;
        }

        if (database is "" or "postgres" or "plexus")
        {
            _namespace = fallback;
            return true;
        }

        string wanted = database.ToLowerInvariant();
        if (_principal.Namespaces is { } allowed && !allowed.Contains(wanted, StringComparer.Ordinal))
        {
            if (database == user)
            {
                _namespace = fallback;
                return true;
            }

            await WriteFatalAsync(PgErrorCodes.InsufficientPrivilege, $"token \"{_principal.Name}\" may read namespace(s) {string.Join(", ", allowed)} only, not \"{database}\"");
            return false;
        }

        try
        {
            await _server.Queries.ExecuteAsync("SELECT 1", wanted, cancellationToken);
            _namespace = wanted;
            return true;
        }
        catch (QueryFailedException) when (database == user)
        {
            _namespace = fallback;
            return true;
        }
        catch (QueryFailedException)
        {
            await WriteFatalAsync(PgErrorCodes.InvalidCatalogName, $"database \"{database}\" does not exist: the database name is a Plexus namespace (main, or one data was written to)");
            return false;
        }
    }

    private static Dictionary<string, string> ReadStartupParameters(byte[] packet)
    {
        var parameters = new Dictionary<string, string>(StringComparer.Ordinal);
        var reader = new PgMessageReader(packet.AsSpan(4));
        while (reader.Remaining > 1)
        {
            string name = reader.ReadCString();
            if (name.Length == 0)
            {
                break;
            }

            parameters[name] = reader.ReadCString();
        }

        return parameters;
    }

    private static bool IsLoopback(EndPoint? remote) => remote is IPEndPoint { Address: var address } && IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);
}
