using Plexus.TestKit;

namespace Plexus.Cli.Tests.Commands;

/// <summary>The client commands against a server on HTTPS with a self-signed certificate: --ca-cert or PLEXUS_CA_CERT trusts it.</summary>
public sealed class HttpsClientTests
{
    [Fact]
    public async Task Client_commands_reach_an_https_server_whose_certificate_they_are_given()
    {
        using var folder = new TempDirectory("plexus-cli-https");
        var (certificate, key, _) = TestCertificates.WriteSelfSignedPem(folder.Path);
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { HttpsCertificate = certificate, HttpsKey = key });
        string url = server.Address.ToString();
        string[] admin = ["--url", url, "--token", PlexusTestServer.AdminToken];

        var written = await CliRunner.RunWithInputAsync("reading,site=a value=1 1\n", ["write", "--db", "secure", "--ca-cert", certificate, .. admin]);
        var queried = await CliRunner.RunAsync(["query", "SELECT count(*) AS n FROM reading", "--db", "secure", "--format", "csv", "--ca-cert", certificate, .. admin]);
        var devices = await CliRunner.RunAsync(["devices", "add", "truck-1", "--ca-cert", certificate, .. admin]);

        Assert.True(written.ExitCode == 0, written.Error);
        Assert.True(queried.ExitCode == 0, queried.Error);
        Assert.Equal("n\n1", queried.Output.Trim().ReplaceLineEndings("\n"));
        Assert.True(devices.ExitCode == 0, devices.Error);
        Assert.NotNull(server.Server.Devices.Get("truck-1"));
    }

    [Fact]
    public async Task Without_the_certificate_a_self_signed_server_is_refused_with_a_tls_message()
    {
        using var folder = new TempDirectory("plexus-cli-https");
        var (certificate, key, _) = TestCertificates.WriteSelfSignedPem(folder.Path);
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { HttpsCertificate = certificate, HttpsKey = key });

        var refused = await CliRunner.RunAsync("query", "SELECT 1", "--url", server.Address.ToString(), "--token", PlexusTestServer.AdminToken);
        var missing = await CliRunner.RunAsync("query", "SELECT 1", "--url", server.Address.ToString(), "--token", PlexusTestServer.AdminToken, "--ca-cert", Path.Combine(folder.Path, "none.pem"));
        var notPem = await CliRunner.RunAsync("query", "SELECT 1", "--url", server.Address.ToString(), "--token", PlexusTestServer.AdminToken, "--ca-cert", key);

        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("TLS handshake failed", refused.Error, StringComparison.Ordinal);
        Assert.Contains("pass --ca-cert", refused.Error, StringComparison.Ordinal);
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains("cannot read the CA certificate", missing.Error, StringComparison.Ordinal);
        Assert.NotEqual(0, notPem.ExitCode);
        Assert.Contains("holds no PEM certificate", notPem.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_ca_certificate_can_come_from_PLEXUS_CA_CERT()
    {
        using var folder = new TempDirectory("plexus-cli-https");
        var (certificate, key, _) = TestCertificates.WriteSelfSignedPem(folder.Path);
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { HttpsCertificate = certificate, HttpsKey = key });
        Environment.SetEnvironmentVariable("PLEXUS_CA_CERT", certificate);
        try
        {
            var listed = await CliRunner.RunAsync("tokens", "list", "--url", server.Address.ToString(), "--token", PlexusTestServer.AdminToken);

            Assert.True(listed.ExitCode == 0, listed.Error);
        }
        finally
        {
            Environment.SetEnvironmentVariable("PLEXUS_CA_CERT", null);
        }
    }
}
