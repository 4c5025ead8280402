using Npgsql;
using Plexus.TestKit;

namespace Plexus.PgWire.Tests;

/// <summary>The listener's own limits and security settings, each on a server of its own: TLS, cleartext, caps, the authentication timeout.</summary>
public sealed class ListenerTests
{
    [Fact]
    public async Task Password_without_tls_is_refused_unless_loopback_cleartext_is_allowed()
    {
        await using var server = await PlexusTestServer.StartAsync();
        await using var connection = new NpgsqlConnection($"Host=127.0.0.1;Port={server.Server.PgEndpoint!.Port};Username=x;Password={PlexusTestServer.AdminToken};Pooling=false;SSL Mode=Disable");
        var error = await Assert.ThrowsAsync<PostgresException>(() => connection.OpenAsync());
        Assert.Equal("28000", error.SqlState);
        Assert.Contains("--pg-allow-loopback-cleartext", error.MessageText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tls_with_the_configured_certificate_carries_the_password()
    {
        using var folder = new TempDirectory("plexus-pg-tls");
        var (certificate, key, _) = TestCertificates.WriteSelfSignedPem(folder.Path);
        await using var server = await PlexusTestServer.StartAsync(configure: options => options with { PgTlsCertificate = certificate, PgTlsKey = key });
        await using var connection = new NpgsqlConnection($"Host=127.0.0.1;Port={server.Server.PgEndpoint!.Port};Username=x;Password={PlexusTestServer.AdminToken};Pooling=false;SSL Mode=Require;Root Certificate={certificate}");
        await connection.OpenAsync();
        Assert.Equal(7, Convert.ToInt32(await new NpgsqlCommand("SELECT 7", connection).ExecuteScalarAsync()));
    }

    [Fact]
    public async Task Bytes_sent_after_ssl_request_before_the_handshake_end_the_connection()
    {
        using var folder = new TempDirectory("plexus-pg-tls");
        var (certificate, key, _) = TestCertificates.WriteSelfSignedPem(folder.Path);
        await using var server = await PlexusTestServer.StartAsync(configure: options => options with { PgTlsCertificate = certificate, PgTlsKey = key });
        await using var client = await RawPgClient.ConnectAsync(server.Server.PgEndpoint!.Port);

        // A man in the middle appends a startup in cleartext to the client's SSLRequest (CVE-2021-23214's injection).
        var startup = new List<byte>();
        startup.AddRange(RawPgClient.Int32(8));
        startup.AddRange(RawPgClient.Int32(80877103));
        startup.AddRange(RawPgClient.Int32(8));
        startup.AddRange(RawPgClient.Int32(196608));
        await client.SendRawAsync([.. startup]);
        Assert.Equal((byte)'S', await client.ReadByteAsync());

        // Refused in cleartext at once, not left to fail in the TLS handshake (where the bytes would have been read).
        var (type, body) = await client.ReadAsync();
        Assert.Equal((byte)'E', type);
        Assert.Equal("08P01", RawPgClient.SqlState(body));
        Assert.True(await client.IsClosedAsync());
    }

    [Fact]
    public async Task Connection_that_does_not_authenticate_in_time_is_closed()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: options => options with { PgAuthTimeout = TimeSpan.FromMilliseconds(300), PgAllowLoopbackCleartext = true });
        await using var silent = await RawPgClient.ConnectAsync(server.Server.PgEndpoint!.Port);
        var (type, body) = await silent.ReadAsync();
        Assert.Equal((byte)'E', type);
        Assert.Contains("--pg-auth-timeout", RawPgClient.Field(body, 'M'), StringComparison.Ordinal);
        Assert.True(await silent.IsClosedAsync());
    }

    [Fact]
    public async Task Connection_over_the_cap_is_refused_and_the_others_keep_working()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: options => options with { PgMaxConnections = 2, PgAllowLoopbackCleartext = true });
        server.AllowErrorLogs = false;
        int port = server.Server.PgEndpoint!.Port;
        string connectionString = $"Host=127.0.0.1;Port={port};Username=x;Password={PlexusTestServer.AdminToken};Pooling=false";
        await using var first = new NpgsqlConnection(connectionString);
        await first.OpenAsync();
        await using var second = new NpgsqlConnection(connectionString);
        await second.OpenAsync();
        await using var third = new NpgsqlConnection(connectionString);
        var refused = await Assert.ThrowsAsync<PostgresException>(() => third.OpenAsync());
        Assert.Equal("53300", refused.SqlState);
        Assert.Contains("--pg-max-connections", refused.MessageText, StringComparison.Ordinal);
        Assert.Equal(1, Convert.ToInt32(await new NpgsqlCommand("SELECT 1", first).ExecuteScalarAsync()));
        await second.CloseAsync();
        await Eventually.TrueAsync(async () =>
        {
            await using var again = new NpgsqlConnection(connectionString);
            try
            {
                await again.OpenAsync();
                return true;
            }
            catch (PostgresException)
            {
                return false;
            }
        }, because: "a closed connection frees its place");
    }

    [Fact]
    public async Task Off_runs_no_listener()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: options => options with { PgEndpoint = "off" });
        Assert.Null(server.Server.PgEndpoint);
    }
}
