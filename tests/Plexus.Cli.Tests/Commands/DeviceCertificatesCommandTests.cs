using System.Net;
using System.Text;
using System.Text.Json;
using Plexus.TestKit;
using static Plexus.TestKit.TestClientCertificates;

namespace Plexus.Cli.Tests.Commands;

/// <summary>`plexus devices add --cert` and `plexus devices cert add|list|remove` over the HTTP API of a real server.</summary>
public sealed class DeviceCertificatesCommandTests
{
    [Fact]
    public async Task Certificates_are_registered_listed_shown_with_the_device_and_removed_and_no_key_leaves_the_client()
    {
        using var folder = new TempDirectory();
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { MqttEndpoint = "off" });
        string[] connection = ["--url", server.Address.ToString(), "--token", PlexusTestServer.AdminToken];
        using var first = CreateClient("meter-1");
        using var second = CreateClient("meter-1");
        var (firstPath, firstKey) = WritePem(first, folder.Path, "first");

        // A file holding the certificate and its key: only the certificate is sent.
        string combined = Path.Combine(folder.Path, "combined.pem");
        await File.WriteAllTextAsync(combined, await File.ReadAllTextAsync(firstKey) + await File.ReadAllTextAsync(firstPath));
        var add = await CliRunner.RunAsync(["devices", "add", "meter-1", "--cert", combined, .. connection]);
        Assert.True(add.ExitCode == 0, add.Error);
        Assert.Contains($"certificate {Thumbprint(first)} registered", add.Error, StringComparison.Ordinal);

        var rotate = await CliRunner.RunAsync(["devices", "cert", "add", "meter-1", Thumbprint(second), .. connection]);
        Assert.True(rotate.ExitCode == 0, rotate.Error);

        var list = await CliRunner.RunAsync(["devices", "cert", "list", "meter-1", .. connection]);
        Assert.True(list.ExitCode == 0, list.Error);
        Assert.Contains(Thumbprint(first), list.Output, StringComparison.Ordinal);
        Assert.Contains("\"subject\": \"CN=meter-1\"", list.Output, StringComparison.Ordinal);
        Assert.Contains(Thumbprint(second), list.Output, StringComparison.Ordinal);

        var show = await CliRunner.RunAsync(["devices", "show", "meter-1", .. connection]);
        Assert.Contains(Thumbprint(first), show.Output, StringComparison.Ordinal);

        var remove = await CliRunner.RunAsync(["devices", "cert", "remove", "meter-1", Thumbprint(first), .. connection]);
        Assert.True(remove.ExitCode == 0, remove.Error);
        Assert.Equal([Thumbprint(second)], server.Server.Devices.Certificates.List("meter-1").Select(c => c.Thumbprint));

        var again = await CliRunner.RunAsync(["devices", "cert", "remove", "meter-1", Thumbprint(first), .. connection]);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("has no certificate", again.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Http_api_refuses_a_private_key_a_certificate_of_another_device_and_an_unknown_device()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { MqttEndpoint = "off" });
        server.Server.Devices.Add(new Plexus.Devices.NewDevice("a"));
        server.Server.Devices.Add(new Plexus.Devices.NewDevice("b"));
        using var certificate = CreateClient("a");
        using var folder = new TempDirectory();
        var (_, keyPath) = WritePem(certificate, folder.Path, "a");

        async Task<(HttpStatusCode Status, string Body)> PostAsync(string id, string value)
        {
            string body = JsonSerializer.Serialize(new Dictionary<string, string> { ["certificate"] = value });
            using var response = await server.Client.PostAsync($"/api/v1/devices/{id}/certificates", new StringContent(body, Encoding.UTF8, "application/json"));
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }

        var key = await PostAsync("a", await File.ReadAllTextAsync(keyPath) + Pem(certificate));
        Assert.Equal(HttpStatusCode.BadRequest, key.Status);
        Assert.Contains("private key", key.Body, StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.Created, (await PostAsync("a", Pem(certificate))).Status);
        var taken = await PostAsync("b", Pem(certificate));
        Assert.Equal(HttpStatusCode.Conflict, taken.Status);
        Assert.Contains("another device", taken.Body, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await PostAsync("ghost", Pem(certificate))).Status);

        using var listed = await server.Client.GetAsync("/api/v1/devices/a/certificates");
        using var document = JsonDocument.Parse(await listed.Content.ReadAsStringAsync());
        Assert.Equal(Thumbprint(certificate), document.RootElement.GetProperty("certificates")[0].GetProperty("thumbprint").GetString());
    }
}
