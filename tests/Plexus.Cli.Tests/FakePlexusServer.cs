using System.Collections.Concurrent;
using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Plexus.Cli.Tests;

/// <summary>A request as the fake server received it.</summary>
public sealed record RecordedRequest(string Method, string Target, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    public string Path => Target.Split('?', 2)[0];

    public IReadOnlyDictionary<string, string> Query
    {
        get
        {
            var query = new Dictionary<string, string>(StringComparer.Ordinal);
            string[] parts = Target.Split('?', 2);
            if (parts.Length == 2)
            {
                foreach (string pair in parts[1].Split('&', StringSplitOptions.RemoveEmptyEntries))
                {
                    string[] kv = pair.Split('=', 2);
                    query[Uri.UnescapeDataString(kv[0])] = kv.Length == 2 ? Uri.UnescapeDataString(kv[1]) : "";
                }
            }

            return query;
        }
    }

    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;

    /// <summary>The body as text, gunzipped first when the request said Content-Encoding: gzip.</summary>
    public string BodyText
    {
        get
        {
            if (Header("Content-Encoding") != "gzip")
            {
                return Encoding.UTF8.GetString(Body);
            }

            using var gzip = new GZipStream(new MemoryStream(Body), CompressionMode.Decompress);
            using var reader = new StreamReader(gzip, Encoding.UTF8);
            return reader.ReadToEnd();
        }
    }
}

/// <summary>What the fake server answers.</summary>
public sealed record CannedResponse(int Status, string Body = "", string ContentType = "application/json; charset=utf-8", params (string Name, string Value)[] Headers)
{
    public static CannedResponse NoContent { get; } = new(204);

    public static CannedResponse Json(int status, string body) => new(status, body);
}

/// <summary>
/// Stands in for the Plexus server in client tests: a minimal HTTP/1.1 endpoint on 127.0.0.1, port 0, over a real
/// socket, that records each request and replies with whatever <see cref="Handler"/> returns. It speaks just enough
/// HTTP for HttpClient (Content-Length and chunked bodies, keep-alive). A failure inside the fake is kept and rethrown
/// on dispose, so a test never passes because the fake broke.
/// </summary>
public sealed class FakePlexusServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentBag<Task> _connections = [];
    private readonly ConcurrentQueue<Exception> _failures = new();
    private readonly Lock _requestsLock = new();
    private readonly List<RecordedRequest> _requests = [];
    private readonly Task _acceptLoop;

    public FakePlexusServer(Func<RecordedRequest, CannedResponse>? handler = null)
    {
        Handler = handler ?? (_ => CannedResponse.NoContent);
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Url = $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";
        _acceptLoop = AcceptAsync();
    }

    public string Url { get; }

    public Func<RecordedRequest, CannedResponse> Handler { get; set; }

    /// <summary>The requests received so far, in the order their bodies were complete.</summary>
    public IReadOnlyList<RecordedRequest> Requests
    {
        get
        {
            lock (_requestsLock)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>A port nobody listens on: bound and released, so a connection to it is refused.</summary>
    public static string UnusedUrl()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return $"http://127.0.0.1:{port}";
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _acceptLoop;
        await Task.WhenAll(_connections);
        _stop.Dispose();
        if (!_failures.IsEmpty)
        {
            throw new AggregateException("the fake server failed", _failures);
        }
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _connections.Add(ServeConnectionAsync(client));
        }
    }

    private async Task ServeConnectionAsync(TcpClient client)
    {
        using var _ = client;
        try
        {
            var stream = client.GetStream();
            var reader = new HttpReader(stream);
            while (!_stop.IsCancellationRequested)
            {
                var request = await reader.ReadRequestAsync(_stop.Token);
                if (request is null)
                {
                    return; // The client closed the connection between requests.
                }

                lock (_requestsLock)
                {
                    _requests.Add(request);
                }

                var response = Handler(request);
                await WriteResponseAsync(stream, response, _stop.Token);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException)
        {
            // The client went away (a cancelled upload) or the test is over.
        }
        catch (Exception e)
        {
            _failures.Enqueue(e);
        }
    }

    private static async Task WriteResponseAsync(NetworkStream stream, CannedResponse response, CancellationToken cancellationToken)
    {
        byte[] body = Encoding.UTF8.GetBytes(response.Body);
        var head = new StringBuilder();
        head.Append("HTTP/1.1 ").Append(response.Status).Append(' ').Append(Reason(response.Status)).Append("\r\n");
        head.Append("Content-Length: ").Append(body.Length).Append("\r\n");
        if (body.Length > 0)
        {
            head.Append("Content-Type: ").Append(response.ContentType).Append("\r\n");
        }

        foreach (var (name, value) in response.Headers)
        {
            head.Append(name).Append(": ").Append(value).Append("\r\n");
        }

        head.Append("\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()), cancellationToken);
        await stream.WriteAsync(body, cancellationToken);
        await stream.FlushAsync(cancellationToken);
    }

    private static string Reason(int status) => status switch
    {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };

    /// <summary>Reads HTTP/1.1 requests off a stream: request line, headers, then a Content-Length or chunked body.</summary>
    private sealed class HttpReader(Stream stream)
    {
        private readonly byte[] _buffer = new byte[16 * 1024];
        private int _start;
        private int _end;

        public async Task<RecordedRequest?> ReadRequestAsync(CancellationToken cancellationToken)
        {
            string? requestLine = await ReadLineAsync(cancellationToken);
            if (requestLine is null)
            {
                return null;
            }

            string[] parts = requestLine.Split(' ');
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            while (true)
            {
                string line = await ReadLineAsync(cancellationToken) ?? throw new IOException("connection closed inside the headers");
                if (line.Length == 0)
                {
                    break;
                }

                int colon = line.IndexOf(':', StringComparison.Ordinal);
                headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
            }

            byte[] body;
            if (headers.TryGetValue("Transfer-Encoding", out var encoding) && encoding.Contains("chunked", StringComparison.OrdinalIgnoreCase))
            {
                var collected = new MemoryStream();
                while (true)
                {
                    string sizeLine = await ReadLineAsync(cancellationToken) ?? throw new IOException("connection closed inside a chunk");
                    int size = Convert.ToInt32(sizeLine.Split(';')[0].Trim(), 16);
                    if (size == 0)
                    {
                        while ((await ReadLineAsync(cancellationToken))?.Length > 0)
                        {
                        }

                        break;
                    }

                    collected.Write(await ReadExactlyAsync(size, cancellationToken));
                    await ReadLineAsync(cancellationToken);
                }

                body = collected.ToArray();
            }
            else
            {
                int length = headers.TryGetValue("Content-Length", out var value) ? int.Parse(value) : 0;
                body = await ReadExactlyAsync(length, cancellationToken);
            }

            return new RecordedRequest(parts[0], parts[1], headers, body);
        }

        private async Task<string?> ReadLineAsync(CancellationToken cancellationToken)
        {
            var line = new MemoryStream();
            while (true)
            {
                if (_start == _end && !await FillAsync(cancellationToken))
                {
                    return line.Length == 0 ? null : throw new IOException("connection closed inside a line");
                }

                int newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
                if (newline < 0)
                {
                    line.Write(_buffer, _start, _end - _start);
                    _start = _end;
                    continue;
                }

                line.Write(_buffer, _start, newline - _start);
                _start = newline + 1;
                return Encoding.ASCII.GetString(line.ToArray()).TrimEnd('\r');
            }
        }

        private async Task<byte[]> ReadExactlyAsync(int count, CancellationToken cancellationToken)
        {
            byte[] result = new byte[count];
            int done = 0;
            while (done < count)
            {
                if (_start == _end && !await FillAsync(cancellationToken))
                {
                    throw new IOException("connection closed inside a body");
                }

                int take = Math.Min(count - done, _end - _start);
                Array.Copy(_buffer, _start, result, done, take);
                _start += take;
                done += take;
            }

            return result;
        }

        private async Task<bool> FillAsync(CancellationToken cancellationToken)
        {
            _start = 0;
            _end = await stream.ReadAsync(_buffer, cancellationToken);
            return _end > 0;
        }
    }
}
