using System.Globalization;
using System.Text;
using Npgsql;
using Plexus.Api.Auth;
using Plexus.TestKit;

namespace Plexus.PgWire.Tests;

/// <summary>
/// One server for the client tests: measurement <c>cpu</c> in main (60 points of two hosts), a read token, and a
/// token limited to namespace <c>lab</c>. Cleartext passwords are allowed on loopback so that every client can
/// connect without certificates; the TLS tests start servers of their own.
/// </summary>
public sealed class PgLab : IAsyncLifetime
{
    public PlexusTestServer Server { get; private set; } = null!;

    public string ReadToken { get; private set; } = "";

    public string LabToken { get; private set; } = "";

    public int Port => Server.Server.PgEndpoint!.Port;

    public async Task InitializeAsync()
    {
        Server = await PlexusTestServer.StartAsync(configure: options => options with { PgAllowLoopbackCleartext = true });
        var lines = new StringBuilder();
        for (int i = 0; i < 60; i++)
        {
            string host = i % 2 == 0 ? "a" : "b";
            lines.Append(CultureInfo.InvariantCulture, $"cpu,host={host},region=eu usage={i * 1.5},temp={20 + i}i,ok={(i % 3 == 0 ? "true" : "false")},note=\"n{i}\" {1700000000L + (i * 10)}000000000\n");
        }

        (await Server.WriteAsync(lines.ToString())).EnsureSuccessStatusCode();
        (await Server.WriteAsync("cpu,host=c usage=99 1700000000000000000", "?bucket=lab")).EnsureSuccessStatusCode();
        ReadToken = Server.Server.ApiTokens.Create("reader", ApiScope.Read).Token;
        LabToken = Server.Server.ApiTokens.Create("lab-reader", ApiScope.Read, ["lab"]).Token;
    }

    public async Task DisposeAsync() => await Server.DisposeAsync();

    public string ConnectionString(string? token = null, string database = "main", string extra = "") =>
        $"Host=127.0.0.1;Port={Port};Username=grafana;Password={token ?? ReadToken};Database={database};Pooling=false;Timeout=15;Command Timeout=30{extra}";

    public async Task<NpgsqlConnection> OpenAsync(string? token = null, string database = "main", string extra = "")
    {
        var connection = new NpgsqlConnection(ConnectionString(token, database, extra));
        await connection.OpenAsync();
        return connection;
    }
}
