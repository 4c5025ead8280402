using System.IO.Pipelines;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Plexus.PgWire.Protocol;
using Plexus.PgWire.Sql;

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
internal sealed partial class PgConnection : IDisposable
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
