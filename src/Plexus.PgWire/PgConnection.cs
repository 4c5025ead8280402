using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Plexus.PgWire.Protocol;
using Plexus.PgWire.Sql;
using Plexus.Query;

namespace Plexus.PgWire;

/// <summary>
/// One client connection: the startup and authentication exchange, then the simple and extended query protocols
/// (docs/postgres.md). Every statement runs through the same query service as <c>POST /api/v1/sql</c>, with the
/// token's namespaces, so the read-only check, the limits and the timeout are the same; what the engine cannot answer
/// the PostgreSQL way (session settings, transactions, COPY) is answered here.
/// </summary>
/// <remarks>
/// Two-tier failure: a statement's error is an ErrorResponse and the connection goes on; broken framing, an oversized
/// or unknown message, or a message out of order ends this connection only, after one ErrorResponse.
/// </remarks>
internal sealed class PgConnection : IDisposable
{
    private const int ProtocolVersion3 = 196608;
    private const int SslRequestCode = 80877103;
    private const int GssEncRequestCode = 80877104;
    private const int CancelRequestCode = 80877102;
    private const int MaxStartupPacket = 10_000;
    private const int FlushThreshold = 64 * 1024;

    // What one connection may keep prepared: each statement's text is up to --pg-max-message-size, so without a bound a
    // client could hold the server's memory with named statements it never closes.
    private const int MaxPreparedStatements = 1000;
    private const long MaxPreparedBytes = 16L * 1024 * 1024;

    // The window between a query's thread and the socket, as on /api/v1/sql.
    private static readonly PipeOptions AnswerPipe = new(pauseWriterThreshold: 1024 * 1024, resumeWriterThreshold: 512 * 1024, minimumSegmentSize: 16 * 1024, useSynchronizationContext: false);

    private readonly PgWireServer _server;
    private readonly Socket _socket;
    private readonly CancellationToken _closing;
    private readonly PgBuffer _out = new(16 * 1024);
    private readonly byte[] _header = new byte[5];
    private readonly Dictionary<string, PreparedStatement> _statements = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Portal> _portals = new(StringComparer.Ordinal);
    private readonly Lock _activeLock = new();
    private readonly List<StreamingResult> _active = [];
    private Stream _stream;
    private PipeReader _input;
    private PgSession _session = null!;
    private PgPrincipal _principal = null!;
    private string? _namespace;
    private bool _tls;
    private bool _inTransaction;
    private bool _failedTransaction;
    private bool _skipToSync;

    public PgConnection(PgWireServer server, Socket socket, int processId, CancellationToken closing)
    {
        _server = server;
        _socket = socket;
        _closing = closing;
        ProcessId = processId;
        SecretKey = RandomNumberGenerator.GetInt32(int.MinValue, int.MaxValue);
        _stream = new NetworkStream(socket, ownsSocket: false);
        _input = PipeReader.Create(_stream, new StreamPipeReaderOptions(leaveOpen: true));
    }

    public int ProcessId { get; }

    public int SecretKey { get; }

    private PgWireOptions Options => _server.Options;

    public async Task RunAsync()
    {
        try
        {
            if (!await StartupAsync())
            {
                return;
            }

            await ServeAsync();
        }
        catch (PgProtocolException violation)
        {
            _server.Logger.LogInformation("PostgreSQL connection from {Remote} ended: {Reason}", _socket.RemoteEndPoint, violation.Message);
            await TryWriteFatalAsync(violation.Code, violation.Message);
        }
        catch (Exception gone) when (gone is IOException or OperationCanceledException or EndOfStreamException or SocketException or ObjectDisposedException or AuthenticationException)
        {
            // The client left, the server is stopping, or the TLS handshake failed: nothing more to say to it.
        }
        finally
        {
            await CloseAllPortalsAsync();
            await _input.CompleteAsync();
            await _stream.DisposeAsync();
        }
    }

    /// <summary>Closes the socket's stream (RunAsync does when it ends; this is for a connection that never ran).</summary>
    public void Dispose() => _stream.Dispose();

    /// <summary>A CancelRequest named this connection: the statement running now stops with 57014.</summary>
    public void CancelRunning()
    {
        lock (_activeLock)
        {
            foreach (var result in _active)
            {
                result.RequestCancel();
            }
        }
    }

    // ---- startup and authentication ----

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

    // ---- the query protocols ----

    private async Task ServeAsync()
    {
        while (true)
        {
            var (type, payload) = await ReadMessageAsync(_closing);
            if (type == (byte)'X')
            {
                return;
            }

            if (_skipToSync && type != (byte)'S')
            {
                continue;
            }

            try
            {
                switch ((char)type)
                {
                    case 'Q':
                        await SimpleQueryAsync(new PgMessageReader(payload).ReadCString());
                        break;
                    case 'P':
                        Parse(payload);
                        break;
                    case 'B':
                        await BindAsync(payload);
                        break;
                    case 'D':
                        await DescribeAsync(payload);
                        break;
                    case 'E':
                        await ExecuteAsync(payload);
                        break;
                    case 'C':
                        await CloseAsync(payload);
                        break;
                    case 'S':
                        await SyncAsync();
                        break;
                    case 'H':
                        await FlushAsync(_closing);
                        break;
                    case 'd' or 'c' or 'f':
                        // Copy data outside a COPY FROM: PostgreSQL ignores it, and so do we.
                        break;
                    default:
                        throw new PgProtocolException($"unknown message type '{(char)type}' (0x{type:x2})");
                }
            }
            catch (PgException error)
            {
                // The extended protocol skips what the client sent after the error until its Sync.
                WriteError(error);
                _skipToSync = true;
                _failedTransaction |= _inTransaction;
            }
        }
    }

    private async Task SimpleQueryAsync(string sql)
    {
        var statements = SqlText.Split(sql);
        if (statements.Count == 0)
        {
            _out.StartMessage((byte)'I');
            _out.EndMessage();
        }

        foreach (string text in statements)
        {
            try
            {
                var portal = new Portal(_session.Classify(text), []);
                if (portal.Statement.Kind is StatementKind.Query or StatementKind.Show or StatementKind.Canned)
                {
                    await DescribePortalAsync(portal);
                }

                await RunAsync(portal, maxRows: 0);
            }
            catch (PgException error)
            {
                WriteError(error);
                _failedTransaction |= _inTransaction;
                break;
            }
        }

        WriteReadyForQuery();
        await FlushAsync(_closing);
    }

    private void Parse(byte[] payload)
    {
        var reader = new PgMessageReader(payload);
        string name = reader.ReadCString();
        string sql = reader.ReadCString();
        int count = reader.ReadInt16();
        var types = new int[Math.Max(0, count)];
        for (int i = 0; i < types.Length; i++)
        {
            types[i] = reader.ReadInt32();
        }

        if (name.Length > 0 && _statements.ContainsKey(name))
        {
            throw new PgException("42P05", $"prepared statement \"{name}\" already exists");
        }

        long held = _statements.Where(entry => entry.Key != name).Sum(entry => (long)entry.Value.Statement.Sql.Length);
        if (_statements.Count >= MaxPreparedStatements && !_statements.ContainsKey(name) || held + sql.Length > MaxPreparedBytes)
        {
            throw new PgException(PgErrorCodes.ProgramLimitExceeded, $"this connection holds {_statements.Count} prepared statements ({held} characters); at most {MaxPreparedStatements} and {MaxPreparedBytes / (1024 * 1024)} MiB of text may be kept: close some (Close, or DEALLOCATE)");
        }

        var statement = _session.Classify(sql);
        int used = SqlText.ParameterCount(statement.Sql);
        if (used > types.Length)
        {
            Array.Resize(ref types, used);
        }

        _statements[name] = new PreparedStatement(statement, types);
        _out.StartMessage((byte)'1');
        _out.EndMessage();
    }

    private async Task BindAsync(byte[] payload)
    {
        var reader = new PgMessageReader(payload);
        string portalName = reader.ReadCString();
        string statementName = reader.ReadCString();
        var formats = new short[Math.Max(0, (int)reader.ReadInt16())];
        for (int i = 0; i < formats.Length; i++)
        {
            formats[i] = reader.ReadInt16();
        }

        int count = reader.ReadInt16();
        var values = new byte[]?[Math.Max(0, count)];
        for (int i = 0; i < values.Length; i++)
        {
            int length = reader.ReadInt32();
            values[i] = length == -1 ? null : reader.ReadBytes(length);
        }

        var resultFormats = new short[Math.Max(0, (int)reader.ReadInt16())];
        for (int i = 0; i < resultFormats.Length; i++)
        {
            resultFormats[i] = reader.ReadInt16();
        }

        if (!_statements.TryGetValue(statementName, out var prepared))
        {
            throw new PgException(PgErrorCodes.InvalidSqlStatementName, $"prepared statement \"{statementName}\" does not exist");
        }

        if (values.Length != prepared.ParameterTypes.Length)
        {
            throw new PgException(PgErrorCodes.ProtocolViolation, $"bind message supplies {values.Length} parameters, but prepared statement \"{statementName}\" requires {prepared.ParameterTypes.Length}");
        }

        var literals = new string[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            literals[i] = PgParameters.Literal(prepared.ParameterTypes[i], PgAnswerFormat.FormatOf(formats, i), values[i]);
        }

        if (_portals.Remove(portalName, out var old))
        {
            await old.CloseAsync(this);
        }

        var statement = prepared.Statement with { Sql = SqlText.Bind(prepared.Statement.Sql, literals) };
        _portals[portalName] = new Portal(statement, resultFormats) { Prepared = prepared };
        _out.StartMessage((byte)'2');
        _out.EndMessage();
    }

    private async Task DescribeAsync(byte[] payload)
    {
        var reader = new PgMessageReader(payload);
        byte what = reader.ReadByte();
        string name = reader.ReadCString();
        if (what == (byte)'S')
        {
            if (!_statements.TryGetValue(name, out var prepared))
            {
                throw new PgException(PgErrorCodes.InvalidSqlStatementName, $"prepared statement \"{name}\" does not exist");
            }

            _out.StartMessage((byte)'t');
            _out.WriteInt16((short)prepared.ParameterTypes.Length);
            foreach (int type in prepared.ParameterTypes)
            {
                _out.WriteInt32(type == 0 ? PgTypes.TextOid : type);
            }

            _out.EndMessage();
            var columns = await DescribeStatementAsync(prepared);
            if (columns is null)
            {
                WriteNoData();
            }
            else
            {
                WriteRowDescription(columns, []);
            }

            return;
        }

        if (what != (byte)'P')
        {
            throw new PgProtocolException($"Describe of '{(char)what}': only 'S' (statement) and 'P' (portal) exist");
        }

        if (!_portals.TryGetValue(name, out var portal))
        {
            throw new PgException(PgErrorCodes.InvalidCursorName, $"portal \"{name}\" does not exist");
        }

        await DescribePortalAsync(portal);
    }

    private async Task ExecuteAsync(byte[] payload)
    {
        var reader = new PgMessageReader(payload);
        string name = reader.ReadCString();
        int maxRows = reader.ReadInt32();
        if (!_portals.TryGetValue(name, out var portal))
        {
            throw new PgException(PgErrorCodes.InvalidCursorName, $"portal \"{name}\" does not exist");
        }

        await RunAsync(portal, Math.Max(0, maxRows));
    }

    private async Task CloseAsync(byte[] payload)
    {
        var reader = new PgMessageReader(payload);
        byte what = reader.ReadByte();
        string name = reader.ReadCString();
        if (what == (byte)'S')
        {
            _statements.Remove(name);
        }
        else if (what == (byte)'P')
        {
            if (_portals.Remove(name, out var portal))
            {
                await portal.CloseAsync(this);
            }
        }
        else
        {
            throw new PgProtocolException($"Close of '{(char)what}': only 'S' (statement) and 'P' (portal) exist");
        }

        _out.StartMessage((byte)'3');
        _out.EndMessage();
    }

    private async Task SyncAsync()
    {
        _skipToSync = false;
        if (!_inTransaction)
        {
            await CloseAllPortalsAsync();
        }

        WriteReadyForQuery();
        await FlushAsync(_closing);
    }

    private async Task CloseAllPortalsAsync()
    {
        foreach (var portal in _portals.Values)
        {
            await portal.CloseAsync(this);
        }

        _portals.Clear();
    }

    /// <summary>The columns of a prepared statement, found by planning it with NULL parameters and reading no row.</summary>
    private async Task<IReadOnlyList<PgColumn>?> DescribeStatementAsync(PreparedStatement prepared)
    {
        var statement = prepared.Statement;
        if (statement.Kind == StatementKind.Show)
        {
            return ShowColumns(statement.Setting!);
        }

        if (statement.Kind == StatementKind.Canned)
        {
            return [.. statement.Canned!.Columns.Select(PgColumn.Text)];
        }

        if (statement.Kind != StatementKind.Query)
        {
            return null;
        }

        if (prepared.Columns is { } known)
        {
            return known;
        }

        var nulls = prepared.ParameterTypes.Select(type => PgParameters.Literal(type, 0, null)).ToArray();
        string sql = SqlText.Bind(statement.Sql, nulls);
        string code = SqlText.CodeOnly(sql).TrimStart().ToLowerInvariant();
        if (code.StartsWith("select", StringComparison.Ordinal) || code.StartsWith("with", StringComparison.Ordinal) || code.StartsWith("from", StringComparison.Ordinal) || code.StartsWith("values", StringComparison.Ordinal) || code.StartsWith('('))
        {
            // The statement may end in a line comment: the closing parenthesis goes on a line of its own.
            sql = "SELECT * FROM (" + sql.Trim().TrimEnd(';') + "\n) AS plexus_describe LIMIT 0";
        }

        var result = await StartQueryAsync(sql, new PgAnswerFormat(PgAnswerKind.DataRows, []));
        var columns = result.Format.Columns;
        await AbandonAsync(result);
        prepared.Columns = columns;
        return columns;
    }

    private async Task DescribePortalAsync(Portal portal)
    {
        switch (portal.Statement.Kind)
        {
            case StatementKind.Query:
                portal.Result ??= await StartQueryAsync(portal.Statement.Sql, new PgAnswerFormat(PgAnswerKind.DataRows, portal.ResultFormats));
                WriteRowDescription(portal.Result.Format.Columns, portal.ResultFormats);
                break;
            case StatementKind.Show:
                WriteRowDescription(ShowColumns(portal.Statement.Setting!), portal.ResultFormats);
                break;
            case StatementKind.Canned:
                WriteRowDescription([.. portal.Statement.Canned!.Columns.Select(PgColumn.Text)], []);
                break;
            default:
                WriteNoData();
                break;
        }
    }

    private static PgColumn[] ShowColumns(string setting) => setting.Equals("all", StringComparison.OrdinalIgnoreCase)
        ? [PgColumn.Text("name"), PgColumn.Text("setting"), PgColumn.Text("description")]
        : [PgColumn.Text(setting)];

    /// <summary>Runs a portal up to <paramref name="maxRows"/> rows (0: all); false when it was suspended with rows left.</summary>
    private async Task<bool> RunAsync(Portal portal, int maxRows)
    {
        var statement = portal.Statement;
        if (_failedTransaction && statement.Kind is not (StatementKind.Commit or StatementKind.Rollback))
        {
            throw new PgException(PgErrorCodes.InFailedTransaction, "current transaction is aborted, commands ignored until end of transaction block");
        }

        if (portal.Done)
        {
            WriteCommandComplete(portal.CompletedTag ?? "SELECT 0");
            return true;
        }

        switch (statement.Kind)
        {
            case StatementKind.Empty:
                _out.StartMessage((byte)'I');
                _out.EndMessage();
                return true;
            case StatementKind.Begin:
                _inTransaction = true;
                break;
            case StatementKind.Commit:
                statement = _failedTransaction ? statement with { Tag = "ROLLBACK" } : statement;
                _inTransaction = false;
                _failedTransaction = false;
                break;
            case StatementKind.Rollback:
                _inTransaction = false;
                _failedTransaction = false;
                break;
            case StatementKind.Set:
                string? reported = statement.Value is null ? _session.Reset(statement.Setting!) : _session.Set(statement.Setting!, statement.Value);
                if (reported is not null)
                {
                    WriteParameterStatus(reported, _session.Get(reported));
                }

                break;
            case StatementKind.Reset:
                if (statement.Setting!.Equals("all", StringComparison.OrdinalIgnoreCase))
                {
                    _session.ResetAll();
                }
                else if (_session.Reset(statement.Setting) is { } changed)
                {
                    WriteParameterStatus(changed, _session.Get(changed));
                }

                break;
            case StatementKind.Discard:
                _session.ResetAll();
                _statements.Clear();
                break;
            case StatementKind.Deallocate:
                if (statement.Setting is "all")
                {
                    _statements.Clear();
                }
                else
                {
                    _statements.Remove(statement.Setting!);
                }

                break;
            case StatementKind.Show:
                foreach (var row in _session.Show(statement.Setting!))
                {
                    WriteTextRow(row);
                }

                break;
            case StatementKind.Canned:
                foreach (var row in statement.Canned!.Rows)
                {
                    WriteTextRow(row);
                }

                break;
            case StatementKind.CopyIn:
                throw new PgException(PgErrorCodes.InsufficientPrivilege, "COPY FROM writes, and this PostgreSQL listener only reads: write data through POST /api/v2/write (line protocol) or MQTT");
            case StatementKind.CopyOut:
                await CopyOutAsync(portal);
                return true;
            case StatementKind.Query:
                portal.Result ??= await StartQueryAsync(statement.Sql, new PgAnswerFormat(PgAnswerKind.DataRows, portal.ResultFormats));
                if (!await ForwardAsync(portal.Result, maxRows))
                {
                    _out.StartMessage((byte)'s');
                    _out.EndMessage();
                    return false;
                }

                var result = portal.Result;
                portal.Result = null;
                var outcome = await FinishAsync(result);
                portal.Done = true;
                portal.CompletedTag = "SELECT 0";
                WriteCommandComplete($"SELECT {result.Rows}");
                return outcome;
        }

        portal.Done = true;
        portal.CompletedTag = statement.Tag;
        WriteCommandComplete(statement.Tag);
        return true;
    }

    private async Task CopyOutAsync(Portal portal)
    {
        var statement = portal.Statement;
        var kind = statement.CsvFormat ? PgAnswerKind.CopyCsv : PgAnswerKind.CopyText;
        var result = await StartQueryAsync(statement.Sql, new PgAnswerFormat(kind, [], statement.Header));
        _out.StartMessage((byte)'H');
        _out.WriteByte(0);
        _out.WriteInt16((short)result.Format.Columns.Count);
        foreach (var unused in result.Format.Columns)
        {
            _out.WriteInt16(0);
        }

        _out.EndMessage();
        await ForwardAsync(result, 0);

        // The header line is a CopyData message too, not a row.
        long rows = result.Rows - (statement.Header && kind == PgAnswerKind.CopyCsv ? 1 : 0);
        await FinishAsync(result);
        _out.StartMessage((byte)'c');
        _out.EndMessage();
        portal.Done = true;
        WriteCommandComplete($"COPY {rows}");
    }

    // ---- streamed answers ----

    private async Task<StreamingResult> StartQueryAsync(string sql, PgAnswerFormat format)
    {
        var result = new StreamingResult(format, new Pipe(AnswerPipe), _server.Queries.Options.Timeout, _server.Time, _closing);
        lock (_activeLock)
        {
            _active.Add(result);
        }

        try
        {
            var request = new QueryRequest(sql, _namespace, _principal.Namespaces);
            result.Running = await _server.Queries.StartAsync(request, format, result.Pipe.Writer, long.MaxValue, result.Token);
            return result;
        }
        catch (Exception error) when (error is not OutOfMemoryException)
        {
            Forget(result);
            bool cancelled = result.CancelRequested;
            result.Dispose();
            throw PgErrors.From(error, sql, cancelled);
        }
    }

    /// <summary>Copies the answer's messages from the pipe to the socket; false when <paramref name="maxRows"/> were sent and more may follow.</summary>
    private async Task<bool> ForwardAsync(StreamingResult result, int maxRows)
    {
        var reader = result.Pipe.Reader;
        int sent = 0;
        while (true)
        {
            var read = await reader.ReadAsync(_closing);
            var buffer = read.Buffer;
            var position = buffer.Start;
            bool full = false;
            while (true)
            {
                var rest = buffer.Slice(position);
                if (rest.Length < 5)
                {
                    break;
                }

                rest.Slice(0, 5).CopyTo(_header);
                int length = BinaryPrimitives.ReadInt32BigEndian(_header.AsSpan(1));
                if (rest.Length < 1 + length)
                {
                    break;
                }

                var message = rest.Slice(0, 1 + length);
                foreach (var segment in message)
                {
                    _out.Write(segment.Span);
                }

                position = message.End;
                result.Rows++;
                sent++;
                if (maxRows > 0 && sent >= maxRows)
                {
                    full = true;
                    break;
                }
            }

            reader.AdvanceTo(position, full ? position : buffer.End);
            if (_out.Length >= FlushThreshold)
            {
                await FlushAsync(_closing);
            }

            if (full)
            {
                return false;
            }

            if (read.IsCompleted && buffer.Slice(position).Length == 0)
            {
                return true;
            }
        }
    }

    /// <summary>Waits for the end of an answer that was read to its end; throws the error that ended it early.</summary>
    private async Task<bool> FinishAsync(StreamingResult result)
    {
        await result.Pipe.Reader.CompleteAsync();
        var outcome = await result.Running!.Completion;
        Forget(result);
        bool cancelled = result.CancelRequested;
        bool expired = result.Expired;
        result.Dispose();
        if (outcome.End == QueryEnd.Complete)
        {
            return true;
        }

        var options = _server.Queries.Options;
        throw expired && outcome.End == QueryEnd.Cancelled
            ? PgErrors.FromOutcome(outcome with { End = QueryEnd.Timeout }, cancelled, options.MaxRows, options.MaxBytes)
            : PgErrors.FromOutcome(outcome, cancelled, options.MaxRows, options.MaxBytes);
    }

    /// <summary>Stops an answer nobody will read further (a closed portal, a describe), and waits for its thread.</summary>
    internal async Task AbandonAsync(StreamingResult result)
    {
        result.RequestStop();
        await result.Pipe.Reader.CompleteAsync();
        if (result.Running is { } running)
        {
            await running.Completion;
        }

        Forget(result);
        result.Dispose();
    }

    private void Forget(StreamingResult result)
    {
        lock (_activeLock)
        {
            _active.Remove(result);
        }
    }

    // ---- framing ----

    private async Task<byte[]> ReadStartupPacketAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var read = await _input.ReadAsync(cancellationToken);
            var buffer = read.Buffer;
            if (buffer.Length >= 4)
            {
                buffer.Slice(0, 4).CopyTo(_header);
                int length = BinaryPrimitives.ReadInt32BigEndian(_header);
                if (length < 8 || length > MaxStartupPacket)
                {
                    throw new PgProtocolException($"invalid startup packet length {length} (PostgreSQL's limit is {MaxStartupPacket} bytes)");
                }

                if (buffer.Length >= length)
                {
                    byte[] packet = buffer.Slice(4, length - 4).ToArray();
                    _input.AdvanceTo(buffer.GetPosition(length));
                    return packet;
                }
            }

            if (read.IsCompleted)
            {
                throw new EndOfStreamException();
            }

            _input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private async Task<(byte Type, byte[] Payload)> ReadMessageAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var read = await _input.ReadAsync(cancellationToken);
            var buffer = read.Buffer;
            if (buffer.Length >= 5)
            {
                buffer.Slice(0, 5).CopyTo(_header);
                byte type = _header[0];
                int length = BinaryPrimitives.ReadInt32BigEndian(_header.AsSpan(1));
                if (length < 4)
                {
                    throw new PgProtocolException($"invalid message length {length} in a '{(char)type}' message");
                }

                if (length - 4 > Options.MaxMessageSize)
                {
                    throw new PgProtocolException($"a '{(char)type}' message of {length - 4} bytes is larger than the {Options.MaxMessageSize} bytes a message may have (--pg-max-message-size)", PgErrorCodes.ProgramLimitExceeded);
                }

                if (buffer.Length >= 1 + length)
                {
                    byte[] payload = buffer.Slice(5, length - 4).ToArray();
                    _input.AdvanceTo(buffer.GetPosition(1 + length));
                    return (type, payload);
                }
            }

            if (read.IsCompleted)
            {
                throw new EndOfStreamException();
            }

            _input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private async Task WriteRawAsync(byte value, CancellationToken cancellationToken)
    {
        _out.WriteByte(value);
        await FlushAsync(cancellationToken);
    }

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (_out.Length == 0)
        {
            return;
        }

        await _stream.WriteAsync(_out.Memory, cancellationToken);
        await _stream.FlushAsync(cancellationToken);
        _out.Clear();
    }

    private void WriteReadyForQuery()
    {
        _out.StartMessage((byte)'Z');
        _out.WriteByte(_failedTransaction ? (byte)'E' : _inTransaction ? (byte)'T' : (byte)'I');
        _out.EndMessage();
    }

    private void WriteParameterStatus(string name, string value)
    {
        _out.StartMessage((byte)'S');
        _out.WriteCString(name);
        _out.WriteCString(value);
        _out.EndMessage();
    }

    private void WriteNoData()
    {
        _out.StartMessage((byte)'n');
        _out.EndMessage();
    }

    private void WriteCommandComplete(string tag)
    {
        _out.StartMessage((byte)'C');
        _out.WriteCString(tag);
        _out.EndMessage();
    }

    private void WriteRowDescription(IReadOnlyList<PgColumn> columns, IReadOnlyList<short> formats)
    {
        _out.StartMessage((byte)'T');
        _out.WriteInt16((short)columns.Count);
        for (int i = 0; i < columns.Count; i++)
        {
            var column = columns[i];
            _out.WriteCString(column.Name);
            _out.WriteInt32(0);
            _out.WriteInt16(0);
            _out.WriteInt32(column.Oid);
            _out.WriteInt16(column.Size);
            _out.WriteInt32(-1);
            _out.WriteInt16(PgAnswerFormat.FormatOf(formats, i));
        }

        _out.EndMessage();
    }

    private void WriteTextRow(string?[] values)
    {
        _out.StartMessage((byte)'D');
        _out.WriteInt16((short)values.Length);
        foreach (string? value in values)
        {
            if (value is null)
            {
                _out.WriteInt32(-1);
                continue;
            }

            int at = _out.StartLength();
            _out.WriteUtf8(value);
            _out.EndLength(at);
        }

        _out.EndMessage();
    }

    private void WriteError(PgException error, string severity = "ERROR")
    {
        _out.StartMessage((byte)'E');
        WriteField('S', severity);
        WriteField('V', severity);
        WriteField('C', error.Code);
        WriteField('M', error.Message);
        if (error.Position > 0)
        {
            WriteField('P', error.Position.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        if (error.Hint is not null)
        {
            WriteField('H', error.Hint);
        }

        _out.WriteByte(0);
        _out.EndMessage();

        void WriteField(char field, string value)
        {
            _out.WriteByte((byte)field);
            _out.WriteCString(value);
        }
    }

    private async Task WriteFatalAsync(string code, string message)
    {
        WriteError(new PgException(code, message), "FATAL");
        await FlushAsync(_closing);
    }

    private async Task TryWriteFatalAsync(string code, string message)
    {
        try
        {
            _out.Clear();
            WriteError(new PgException(code, message), "FATAL");
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1), _server.Time);
            await _stream.WriteAsync(_out.Memory, timeout.Token);
            _out.Clear();
        }
        catch (Exception gone) when (gone is IOException or OperationCanceledException or ObjectDisposedException or SocketException or InvalidOperationException)
        {
            // The client is gone or does not read: the connection closes anyway.
        }
    }

    /// <summary>A statement prepared with Parse: what it is, its parameter types, and its columns once described.</summary>
    private sealed class PreparedStatement(ClassifiedStatement statement, int[] parameterTypes)
    {
        public ClassifiedStatement Statement { get; } = statement;

        public int[] ParameterTypes { get; } = parameterTypes;

        public IReadOnlyList<PgColumn>? Columns { get; set; }
    }

    /// <summary>A bound statement: its SQL with the parameters in place, the result formats, and its answer once started.</summary>
    private sealed class Portal(ClassifiedStatement statement, short[] resultFormats)
    {
        public ClassifiedStatement Statement { get; } = statement;

        public short[] ResultFormats { get; } = resultFormats;

        public PreparedStatement? Prepared { get; init; }

        public StreamingResult? Result { get; set; }

        public bool Done { get; set; }

        public string? CompletedTag { get; set; }

        public async Task CloseAsync(PgConnection connection)
        {
            if (Result is { } result)
            {
                Result = null;
                await connection.AbandonAsync(result);
            }
        }
    }
}

/// <summary>
/// A query's answer on its way to the socket: the pipe its thread writes messages into, the rows forwarded so far, and
/// its cancellation, which a CancelRequest, a closed portal, the connection's end or the query timeout trigger.
/// </summary>
internal sealed class StreamingResult : IDisposable
{
    private readonly CancellationTokenSource _deadline;
    private readonly CancellationTokenSource _stop;

    public StreamingResult(PgAnswerFormat format, Pipe pipe, TimeSpan timeout, TimeProvider time, CancellationToken closing)
    {
        Format = format;
        Pipe = pipe;

        // The service's timeout interrupts the engine; a client that stops reading leaves the query's thread waiting on a
        // full pipe instead, which only this deadline ends.
        _deadline = new CancellationTokenSource(timeout, time);
        _stop = CancellationTokenSource.CreateLinkedTokenSource(closing, _deadline.Token);
    }

    public PgAnswerFormat Format { get; }

    public Pipe Pipe { get; }

    public RunningQuery? Running { get; set; }

    public long Rows { get; set; }

    public CancellationToken Token => _stop.Token;

    public bool CancelRequested { get; private set; }

    public bool Expired => _deadline.IsCancellationRequested;

    public void RequestCancel()
    {
        CancelRequested = true;
        RequestStop();
    }

    public void RequestStop()
    {
        try
        {
            _stop.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // It ended meanwhile.
        }
    }

    public void Dispose()
    {
        _stop.Dispose();
        _deadline.Dispose();
    }
}
