using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Plexus.Query;

namespace Plexus.PgWire;

/// <summary>
/// The PostgreSQL wire-protocol listener of <c>plexus serve --pg</c> (docs/postgres.md): accepts connections within
/// the caps, runs each on its own task, and routes CancelRequests to the connection they name. It touches the store
/// only through the <see cref="SqlQueryService"/> it is given.
/// </summary>
public sealed class PgWireServer : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<int, PgConnection> _connections = new();
    private readonly ConcurrentDictionary<Task, bool> _running = new();
    private readonly Dictionary<IPAddress, int> _perAddress = [];
    private readonly Lock _admission = new();
    private readonly Task _accepting;
    private int _open;
    private int _nextProcessId;

    private PgWireServer(PgWireOptions options, SqlQueryService queries, ILogger logger, TimeProvider time)
    {
        Options = options;
        Queries = queries;
        Logger = logger;
        Time = time;
        _listener = new Socket(options.Endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            _listener.Bind(options.Endpoint);
            _listener.Listen(512);
        }
        catch
        {
            _listener.Dispose();
            throw;
        }

        Endpoint = (IPEndPoint)_listener.LocalEndPoint!;
        _nextProcessId = Random.Shared.Next(1000, 100_000);
        _accepting = AcceptAsync();
    }

    /// <summary>Where it listens (the bound port when 0 was asked for).</summary>
    public IPEndPoint Endpoint { get; }

    /// <summary>Connections open now.</summary>
    public int OpenConnections => Volatile.Read(ref _open);

    internal PgWireOptions Options { get; }

    internal SqlQueryService Queries { get; }

    internal ILogger Logger { get; }

    internal TimeProvider Time { get; }

    /// <exception cref="SocketException">The address is taken or not this machine's.</exception>
    public static PgWireServer Start(PgWireOptions options, SqlQueryService queries, ILoggerFactory loggerFactory, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(queries);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxConnections, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxConnectionsPerIp, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxMessageSize, 1024);
        return new PgWireServer(options, queries, loggerFactory.CreateLogger("Plexus.PgWire"), time ?? TimeProvider.System);
    }

    /// <summary>Stops accepting, ends every connection (their queries are cancelled) and waits for them.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync();
        _listener.Dispose();
        await _accepting;
        await Task.WhenAll(_running.Keys);
        _stopping.Dispose();
    }

    internal void Cancel(int processId, int secretKey)
    {
        // A wrong key is ignored without a word, as PostgreSQL does: the requester learns nothing about other backends.
        if (_connections.TryGetValue(processId, out var connection) && connection.SecretKey == secretKey)
        {
            connection.CancelRunning();
        }
    }

    private async Task AcceptAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_stopping.Token);
            }
            catch (Exception stopped) when (stopped is OperationCanceledException or ObjectDisposedException or SocketException && _stopping.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException error)
            {
                Logger.LogWarning("PostgreSQL listener could not accept a connection: {Error}", error.Message);
                continue;
            }

            var task = ServeAsync(socket);
            _running[task] = true;
            _ = task.ContinueWith(done => _running.TryRemove(done, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        await Task.Yield();
        var address = AddressOf(socket.RemoteEndPoint);
        string? refusal = Admit(address);
        try
        {
            socket.NoDelay = true;
            if (refusal is not null)
            {
                Logger.LogWarning("PostgreSQL connection from {Remote} refused: {Reason}", socket.RemoteEndPoint, refusal);
                await RefuseAsync(socket, refusal);
                return;
            }

            int processId = Interlocked.Increment(ref _nextProcessId);
            using var connection = new PgConnection(this, socket, processId, _stopping.Token);
            _connections[processId] = connection;
            try
            {
                await connection.RunAsync();
            }
            finally
            {
                _connections.TryRemove(processId, out _);
            }
        }
        catch (Exception unexpected) when (unexpected is not OutOfMemoryException)
        {
            Logger.LogError(unexpected, "PostgreSQL connection from {Remote} failed", socket.RemoteEndPoint);
        }
        finally
        {
            if (refusal is null)
            {
                Release(address);
            }

            socket.Dispose();
        }
    }

    private string? Admit(IPAddress address)
    {
        lock (_admission)
        {
            int fromAddress = _perAddress.GetValueOrDefault(address);
            if (_open >= Options.MaxConnections)
            {
                return $"{_open} PostgreSQL connections are open, the limit is {Options.MaxConnections} (--pg-max-connections)";
            }

            if (fromAddress >= Options.MaxConnectionsPerIp)
            {
                return $"{fromAddress} PostgreSQL connections are open from {address}, the limit is {Options.MaxConnectionsPerIp} per IP address (--pg-max-connections-per-ip)";
            }

            _perAddress[address] = fromAddress + 1;
            _open++;
            return null;
        }
    }

    private void Release(IPAddress address)
    {
        lock (_admission)
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

    /// <summary>
    /// PostgreSQL's answer to one client too many: an ErrorResponse (53300) in answer to its startup packet. A client
    /// asking for TLS first is told 'N', so that it reads the error as an error and not as a broken TLS answer; the
    /// whole exchange has a second.
    /// </summary>
    private async Task RefuseAsync(Socket socket, string reason)
    {
        byte[] message = Encoding.UTF8.GetBytes($"SFATAL\0VFATAL\0C{PgErrorCodes.TooManyConnections}\0Msorry, too many clients already: {reason}\0\0");
        byte[] frame = new byte[5 + message.Length];
        frame[0] = (byte)'E';
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(1), 4 + message.Length);
        message.CopyTo(frame, 5);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1), Time);
        try
        {
            byte[] header = new byte[8];
            for (int packets = 0; packets < 3; packets++)
            {
                await socket.ReceiveAsync(header.AsMemory(0, 8), SocketFlags.None, timeout.Token);
                int length = BinaryPrimitives.ReadInt32BigEndian(header);
                int code = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(4));
                if (length == 8 && code is 80877103 or 80877104)
                {
                    await socket.SendAsync(new byte[] { (byte)'N' }, SocketFlags.None, timeout.Token);
                    continue;
                }

                break;
            }

            await socket.SendAsync(frame, SocketFlags.None, timeout.Token);
        }
        catch (Exception gone) when (gone is SocketException or OperationCanceledException)
        {
            // Refused either way.
        }
    }

    private static IPAddress AddressOf(EndPoint? remote) => remote is IPEndPoint { Address: var address }
        ? address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address
        : IPAddress.None;
}
