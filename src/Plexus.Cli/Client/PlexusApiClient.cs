using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Reflection;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Plexus.Cli.Commands;

namespace Plexus.Cli.Client;

/// <summary>
/// The HTTP side of the client commands: one <see cref="HttpClient"/> per invocation, the token header, and the
/// translation of transport failures and error responses into messages a person can act on.
/// </summary>
internal sealed class PlexusApiClient : IDisposable
{
    /// <summary>Longest a single request may take; the server applies its own, shorter query timeout (408).</summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromMinutes(5);

    private const int MaxErrorBodyBytes = 64 * 1024;

    private readonly HttpClient _http;

    private PlexusApiClient(Uri baseAddress, string? token, HttpMessageHandler handler, TimeSpan timeout)
    {
        BaseAddress = baseAddress;
        HasToken = !string.IsNullOrEmpty(token);
        _http = new HttpClient(handler, disposeHandler: true) { BaseAddress = baseAddress, Timeout = timeout };
        if (HasToken)
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Token", token);
        }

        string version = typeof(PlexusApiClient).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0";
        int plus = version.IndexOf('+', StringComparison.Ordinal);
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("plexus-cli", plus < 0 ? version : version[..plus]));
    }

    /// <summary>The server address without a trailing slash, as shown in messages.</summary>
    public string DisplayAddress => BaseAddress.OriginalString.TrimEnd('/');

    public Uri BaseAddress { get; }

    public bool HasToken { get; }

    /// <summary>Builds a client from the `--url`/`--token`/`--ca-cert` values, falling back to PLEXUS_URL/PLEXUS_TOKEN/PLEXUS_CA_CERT.</summary>
    /// <param name="timeout">Longest a request may take; exports and imports, whose length is their data's, pass <see cref="Timeout.InfiniteTimeSpan"/>.</param>
    public static PlexusApiClient Create(string? url, string? token, int maxConnections = 8, string? caCertificate = null, TimeSpan? timeout = null)
    {
        string resolved = ClientOptions.ResolveUrl(url);
        if (!Uri.TryCreate(resolved + "/", UriKind.Absolute, out var baseAddress)
            || (baseAddress.Scheme != Uri.UriSchemeHttp && baseAddress.Scheme != Uri.UriSchemeHttps))
        {
            throw new CliException($"invalid server address '{resolved}': expected something like {ClientOptions.DefaultUrl}");
        }

        var handler = new SocketsHttpHandler
        {
            AutomaticDecompression = DecompressionMethods.All,
            MaxConnectionsPerServer = Math.Max(1, maxConnections),
            ConnectTimeout = TimeSpan.FromSeconds(10),
        };
        if (ClientOptions.ResolveCaCertificate(caCertificate) is { } caPath)
        {
            handler.SslOptions = new SslClientAuthenticationOptions { CertificateChainPolicy = TrustOnly(caPath) };
        }

        return new PlexusApiClient(baseAddress, ClientOptions.ResolveToken(token), handler, timeout ?? RequestTimeout);
    }

    /// <summary>
    /// A chain policy that trusts the certificates in the PEM file, and nothing else: the server's certificate must be
    /// one of them or be issued by one. The host name is still checked against the certificate. A private CA rarely
    /// publishes revocation lists, so revocation is not checked.
    /// </summary>
    private static X509ChainPolicy TrustOnly(string caPath)
    {
        var trusted = new X509Certificate2Collection();
        try
        {
            trusted.ImportFromPemFile(caPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new CliException($"cannot read the CA certificate {caPath} (--ca-cert or PLEXUS_CA_CERT): {e.Message}", e);
        }

        if (trusted.Count == 0)
        {
            throw new CliException($"{caPath} (--ca-cert or PLEXUS_CA_CERT) holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
        }

        var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        policy.CustomTrustStore.AddRange(trusted);
        return policy;
    }

    /// <summary>
    /// Sends a request; transport failures become a <see cref="CliException"/> that says which address could not
    /// be reached and why. Cancellation through <paramref name="cancellationToken"/> propagates unchanged.
    /// </summary>
    public async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, HttpCompletionOption completion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        try
        {
            return await _http.SendAsync(request, completion, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new CliException($"cannot reach {DisplayAddress}: {DescribeTransportFailure(e)}", e);
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            // HttpClient reports its own timeout as a cancellation whose token nobody asked to cancel.
            throw new CliException($"no answer from {DisplayAddress} within {RequestTimeout.TotalSeconds:0} s", e);
        }
    }

    /// <summary>Turns a non-success response into the message and exit code the commands print.</summary>
    public async Task<CliException> FailureAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(response);
        var body = await ReadErrorAsync(response, cancellationToken);
        int status = (int)response.StatusCode;
        string detail = body.Message ?? response.ReasonPhrase ?? "no details";
        string message = response.StatusCode switch
        {
            HttpStatusCode.Unauthorized when HasToken =>
                "401 unauthorized: the server rejected the token; check --token or PLEXUS_TOKEN",
            HttpStatusCode.Unauthorized =>
                "401 unauthorized: pass --token or set PLEXUS_TOKEN",
            HttpStatusCode.Forbidden => $"403 forbidden: {detail}",
            HttpStatusCode.NotFound => $"404 not found: {response.RequestMessage?.RequestUri?.AbsolutePath} (is {DisplayAddress} a Plexus server?)",
            HttpStatusCode.RequestTimeout => $"408 timeout: {detail}",
            HttpStatusCode.RequestEntityTooLarge => $"413 request too large: {detail}",
            HttpStatusCode.ServiceUnavailable => $"503 server unavailable (starting or stopping): {detail}",
            HttpStatusCode.BadRequest => $"400 bad request: {detail}",
            _ => $"{status} {response.ReasonPhrase}: {detail}",
        };
        if (body.ErrorId is not null && status >= 500)
        {
            // The error id is what an operator searches the server log for; 4xx errors are the caller's to fix.
            message += $" (error id {body.ErrorId})";
        }

        return new CliException(message);
    }

    /// <summary>Reads the `{"code","message","error_id"}` error body; a non-JSON body becomes the message as text.</summary>
    public static async Task<ApiErrorBody> ReadErrorAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(response);
        byte[] bytes = await ReadBoundedAsync(response.Content, MaxErrorBodyBytes, cancellationToken);
        if (bytes.Length == 0)
        {
            return new ApiErrorBody(null, null, null);
        }

        try
        {
            using var document = JsonDocument.Parse(bytes);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                return new ApiErrorBody(
                    GetString(root, "code"),
                    GetString(root, "message") ?? GetString(root, "error"),
                    GetString(root, "error_id"));
            }
        }
        catch (JsonException)
        {
            // Not JSON (a proxy's HTML page, plain text): show its text below.
        }

        string text = Encoding.UTF8.GetString(bytes).Trim();
        return new ApiErrorBody(null, text.Length > 500 ? text[..500] + "…" : text, null);
    }

    public void Dispose() => _http.Dispose();

    internal static string DescribeTransportFailure(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            if (e is SocketException socket)
            {
                return socket.SocketErrorCode switch
                {
                    SocketError.ConnectionRefused => "connection refused (is the server running? start it with 'plexus serve')",
                    SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain => "host not found",
                    SocketError.TimedOut => "connection timed out",
                    SocketError.ConnectionReset => "connection reset by the server",
                    SocketError.NetworkUnreachable or SocketError.HostUnreachable => "network unreachable",
                    _ => socket.Message,
                };
            }
        }

        if (exception is HttpRequestException http)
        {
            switch (http.HttpRequestError)
            {
                case HttpRequestError.NameResolutionError:
                    return "host not found";
                case HttpRequestError.SecureConnectionError:
                    return "TLS handshake failed: " + (http.InnerException?.Message ?? http.Message) + " (for a self-signed certificate pass --ca-cert <pem> or set PLEXUS_CA_CERT)";
                case HttpRequestError.ResponseEnded:
                    return "the server closed the connection before answering";
                case HttpRequestError.InvalidResponse:
                    return "the answer was not HTTP (is this the right port?)";
            }
        }

        return exception.InnerException?.Message ?? exception.Message;
    }

    private static async Task<byte[]> ReadBoundedAsync(HttpContent content, int limit, CancellationToken cancellationToken)
    {
        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        var buffer = new byte[limit];
        int total = 0;
        while (total < limit)
        {
            int read = await stream.ReadAsync(buffer.AsMemory(total), cancellationToken);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return buffer.AsSpan(0, total).ToArray();
    }

    private static string? GetString(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}

/// <summary>The common fields of the server's error responses.</summary>
internal sealed record ApiErrorBody(string? Code, string? Message, string? ErrorId);
