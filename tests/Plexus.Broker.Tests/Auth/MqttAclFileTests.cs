using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Plexus.Broker.Auth;
using Plexus.TestKit;

namespace Plexus.Broker.Tests.Auth;

/// <summary>The MQTT ACL file (--mqtt-acl-file): its rules, its substitutions that nobody can widen, its reload, over real clients.</summary>
public sealed class MqttAclFileTests
{
    /// <summary>The ACL file docs/mqtt.md shows: the tests grant by the page's own example.</summary>
    private static readonly string Rules = DocsPages.Runnable("mqtt.md", "conf").Single().Code;

    [Fact]
    public void Users_topics_and_patterns_grant_what_the_file_says()
    {
        var file = MqttAclFile.Parse(Rules, "acl");

        Assert.True(file.MayRead("dashboard", "c1", "devices/+/telemetry"));
        Assert.True(file.MayRead("dashboard", "c1", "public/news"));
        Assert.False(file.MayRead("dashboard", "c1", "#"));
        Assert.False(file.MayWrite("dashboard", "c1", "devices/d1/telemetry"));
        Assert.True(file.MayWrite("etl", "c1", "ingest/a"));
        Assert.False(file.MayRead("etl", "c1", "ingest/a"));
        Assert.True(file.MayWrite("etl", "c1", "clients/c1/out"));
        Assert.False(file.MayWrite("etl", "c1", "clients/c2/out"));
        Assert.True(file.MayRead("etl", "c1", "users/etl/#"));
        Assert.False(file.MayRead("etl", "c1", "users/dashboard/#"));
    }

    [Theory]
    [InlineData("+")]
    [InlineData("#")]
    [InlineData("a/b")]
    [InlineData("")]
    public void A_client_id_with_a_wildcard_or_a_level_separator_gets_nothing_from_a_pattern(string clientId)
    {
        var file = MqttAclFile.Parse(Rules, "acl");

        Assert.False(file.MayRead("etl", clientId, "clients/+/#"));
        Assert.False(file.MayRead("etl", clientId, "clients/#"));
        Assert.False(file.MayWrite("etl", clientId, "clients/other/x"));
        Assert.False(file.MayWrite("etl", clientId, "clients/a/b/x"));
    }

    [Theory]
    [InlineData("topic")]
    [InlineData("topic readonly a/b")]
    [InlineData("topic read a/#/b")]
    [InlineData("user")]
    [InlineData("allow a/b")]
    public void A_mistake_is_named_with_its_line(string line)
    {
        var error = Assert.Throws<FormatException>(() => MqttAclFile.Parse("# header\n" + line + "\n", "/etc/plexus/acl"));

        Assert.StartsWith("/etc/plexus/acl line 2: ", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Applications_get_what_the_file_grants_and_percent_u_is_the_token_name_not_the_user_name(MqttProtocolVersion version)
    {
        using var folder = new TempDirectory();
        string path = Path.Combine(folder.Path, "acl");
        await File.WriteAllTextAsync(path, Rules);
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { MqttAclFile = path });
        string etl = server.Server.ApiTokens.Create("etl", Api.Auth.ApiScope.Write).Token;
        // The user name claims to be the dashboard; %u is the token's name all the same.
        using var app = await MqttTestClients.ConnectAsync(server, version, clientId: "c1", password: etl, configure: b => b.WithCredentials("dashboard", etl));
        using var admin = await MqttTestClients.ConnectAsync(server, version);

        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, await app.SubscribeResultAsync("users/etl/#"));
        Assert.NotEqual(MqttClientSubscribeResultCode.GrantedQoS1, await app.SubscribeResultAsync("users/dashboard/#"));
        Assert.NotEqual(MqttClientSubscribeResultCode.GrantedQoS1, await app.SubscribeResultAsync("devices/+/telemetry"));
        var seen = await admin.SubscribeCollectingAsync("#");
        await app.PublishAsync("clients/c1/out", "mine");
        await app.PublishAsync("clients/c2/out", "not mine");
        await app.PublishAsync("ingest/x", "allowed");

        await Eventually.TrueAsync(() => MqttTestClients.Count(seen) >= 2, because: "the two allowed publishes arrive");
        lock (seen)
        {
            Assert.Equal(["clients/c1/out", "ingest/x"], seen.Select(m => m.Topic));
        }
    }

    [Fact]
    public async Task A_client_id_of_plus_cannot_widen_a_pattern_to_other_clients_topics()
    {
        using var folder = new TempDirectory();
        string path = Path.Combine(folder.Path, "acl");
        await File.WriteAllTextAsync(path, Rules);
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { MqttAclFile = path });
        string etl = server.Server.ApiTokens.Create("etl", Api.Auth.ApiScope.Write).Token;
        using var sneaky = await MqttTestClients.ConnectAsync(server, clientId: "+", password: etl);

        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, await sneaky.SubscribeResultAsync("clients/+/#"));
    }

    [Fact]
    public async Task The_file_is_reloaded_when_it_changes_and_a_broken_file_keeps_the_rules_in_force()
    {
        using var folder = new TempDirectory();
        string path = Path.Combine(folder.Path, "acl");
        await File.WriteAllTextAsync(path, "user dashboard\ntopic read a/#\n");
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { MqttAclFile = path });
        string token = server.Server.ApiTokens.Create("dashboard", Api.Auth.ApiScope.Read).Token;
        using var app = await MqttTestClients.ConnectAsync(server, password: token);
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, await app.SubscribeResultAsync("b/1"));

        await File.WriteAllTextAsync(path, "user dashboard\ntopic read b/#\n");
        await Eventually.TrueAsync(async () => await app.SubscribeResultAsync("b/1") == MqttClientSubscribeResultCode.GrantedQoS1, because: "the changed file is in force");

        await File.WriteAllTextAsync(path, "user dashboard\ntopic sometimes c/#\n");
        await Eventually.TrueAsync(() => server.Logs.Entries.Any(e => e.Message.Contains("not reloaded", StringComparison.Ordinal) && e.Message.Contains("line 2", StringComparison.Ordinal)), because: "the broken file is reported");
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, await app.SubscribeResultAsync("b/2"));
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, await app.SubscribeResultAsync("c/1"));
    }

    [Fact]
    public async Task A_broken_file_stops_the_start_with_the_line_named()
    {
        using var folder = new TempDirectory();
        string path = Path.Combine(folder.Path, "acl");
        await File.WriteAllTextAsync(path, "topic read a/#/b\n");

        var error = await Assert.ThrowsAsync<IOException>(() => PlexusTestServer.StartAsync(configure: o => o with { MqttAclFile = path }));

        Assert.Contains("line 1", error.Message, StringComparison.Ordinal);
        Assert.Contains("--mqtt-acl-file", error.Message, StringComparison.Ordinal);
    }
}
