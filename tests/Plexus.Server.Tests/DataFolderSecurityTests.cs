using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using MQTTnet;
using MQTTnet.Protocol;
using Plexus.Core;
using Plexus.TestKit;

namespace Plexus.Server.Tests;

/// <summary>
/// The data folder is private to the server's account (folder 0700, files 0600, DuckDB's own files included), an
/// older, looser folder is tightened at start, the admin token must be long, and the token files are written whole.
/// </summary>
public sealed class DataFolderSecurityTests
{
    private const UnixFileMode GroupAndOthers = (UnixFileMode)0b000_111_111;

    [Fact]
    public async Task Every_file_in_the_data_folder_is_private_after_start_and_use()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        await using var server = await PlexusTestServer.StartAsync();
        string data = server.Server.DataDirectory;

        // Something of every kind the server stores: DuckDB tables (direct write), the write log (small logged
        // writes), the API tokens, a retained MQTT message.
        using (var first = await server.WriteAsync("cpu,host=a usage=1 1"))
        {
            Assert.Equal(HttpStatusCode.NoContent, first.StatusCode);
        }

        using (var logged = await server.WriteAsync("cpu,host=a usage=2 2"))
        {
            Assert.Equal(HttpStatusCode.NoContent, logged.StatusCode);
        }

        server.Server.ApiTokens.Create("grafana", Api.Auth.ApiScope.Read);
        using var mqtt = new MqttClientFactory().CreateMqttClient();
        await mqtt.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", server.MqttEndpoint!.Port).WithCredentials("app", PlexusTestServer.AdminToken).Build());
        await mqtt.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("status/a").WithPayload("up").WithRetainFlag().WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        await server.RowsAsync("SELECT count(*) FROM cpu");

        var names = Directory.EnumerateFileSystemEntries(data, "*", SearchOption.AllDirectories).Select(p => Path.GetRelativePath(data, p)).ToList();
        Assert.Superset(new HashSet<string> { "plexus.duckdb", "plexus.duckdb.wal", "plexus.log", "admin-token.sha256", "api-tokens.json", "mqtt-retained.journal", "device-credentials.journal" }, names.ToHashSet());
        Assert.Equal(PrivateFiles.FolderMode, File.GetUnixFileMode(data));
        foreach (string path in Directory.EnumerateFileSystemEntries(data, "*", SearchOption.AllDirectories))
        {
            var mode = File.GetUnixFileMode(path);
            Assert.True((mode & GroupAndOthers) == 0, $"{Path.GetRelativePath(data, path)} is {Convert.ToString((int)mode, 8)}; group and others must have no access");
        }
    }

    [Fact]
    public async Task A_data_folder_open_to_others_is_tightened_at_start_with_one_log_line()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        using var data = new TempDirectory("plexus-modes");
        const UnixFileMode Open = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
        const UnixFileMode Readable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        File.SetUnixFileMode(data.Path, Open);
        string notes = Path.Combine(data.Path, "notes.txt");
        await File.WriteAllTextAsync(notes, "left by an older version");
        File.SetUnixFileMode(notes, Readable);
        string folder = Path.Combine(data.Path, "plexus.duckdb.tmp");
        Directory.CreateDirectory(folder);
        File.SetUnixFileMode(folder, Open);
        string spilled = Path.Combine(folder, "spill.block");
        await File.WriteAllTextAsync(spilled, "x");
        File.SetUnixFileMode(spilled, Readable);

        await using var server = await PlexusTestServer.StartAsync(data.Path);

        Assert.Equal(PrivateFiles.FolderMode, File.GetUnixFileMode(data.Path));
        Assert.Equal(PrivateFiles.FolderMode, File.GetUnixFileMode(folder));
        Assert.Equal(PrivateFiles.FileMode, File.GetUnixFileMode(notes));
        Assert.Equal(PrivateFiles.FileMode, File.GetUnixFileMode(spilled));
        var lines = server.Logs.Entries.Where(e => e.Message.Contains("made private", StringComparison.Ordinal)).ToList();
        var line = Assert.Single(lines);
        Assert.Contains("the folder 0755→0700", line.Message, StringComparison.Ordinal);
        Assert.Contains("notes.txt 0644→0600", line.Message, StringComparison.Ordinal);
        Assert.Contains(Path.Combine("plexus.duckdb.tmp", "spill.block") + " 0644→0600", line.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_private_data_folder_is_left_as_it_is_and_logs_nothing()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        using var data = new TempDirectory("plexus-modes");
        await using (await PlexusTestServer.StartAsync(data.Path))
        {
        }

        await using var again = await PlexusTestServer.StartAsync(data.Path);

        Assert.DoesNotContain(again.Logs.Entries, e => e.Message.Contains("made private", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Plexus_serve_refuses_an_admin_token_shorter_than_16_characters()
    {
        using var data = new TempDirectory("plexus-short-token");
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "plexus.dll"), "serve", "--data", data.Path, "--http", "127.0.0.1:0", "--mqtt", "off", "--pg", "off", "--admin-token", "fifteen-chars-x"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var serve = Process.Start(start)!;
        var error = serve.StandardError.ReadToEndAsync();
        var output = serve.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await serve.WaitForExitAsync(timeout.Token);

        Assert.Equal(2, serve.ExitCode);
        Assert.Contains("admin-token: the token is 15 characters; it must be at least 16", await error, StringComparison.Ordinal);
        Assert.Empty(await output);
        Assert.False(File.Exists(Path.Combine(data.Path, "admin-token.sha256")));
    }

    [Fact]
    public async Task The_server_library_refuses_a_short_admin_token_before_touching_the_data_folder()
    {
        using var data = new TempDirectory("plexus-short-token");

        var error = await Assert.ThrowsAsync<ArgumentException>(() => PlexusTestServer.StartAsync(data.Path, o => o with { AdminToken = "short" }));

        Assert.Contains("at least 16", error.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(data.Path));
    }

    [Fact]
    public void A_durable_write_replaces_the_file_whole_owner_only_and_leaves_no_temporary_file()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        using var folder = new TempDirectory("plexus-durable");
        string path = Path.Combine(folder.Path, "api-tokens.json");
        File.WriteAllText(path, "old and readable");
        File.SetUnixFileMode(path, (UnixFileMode)0b110_100_100);

        // A temporary file a crash left behind, open to others: its mode must not carry over.
        File.WriteAllText(path + ".tmp", "torn");
        File.SetUnixFileMode(path + ".tmp", (UnixFileMode)0b110_110_110);

        DurableFile.Replace(path, "new"u8);

        Assert.Equal("new", File.ReadAllText(path));
        Assert.Equal(PrivateFiles.FileMode, File.GetUnixFileMode(path));
        Assert.False(File.Exists(path + ".tmp"));
        var missing = Assert.Throws<IOException>(() => DurableFile.SyncDirectory(Path.Combine(folder.Path, "missing")));
        Assert.Contains("missing", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Api_token_file_is_private_and_holds_every_token_after_each_change()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        await using var server = await PlexusTestServer.StartAsync();
        string file = Path.Combine(server.Server.DataDirectory, "api-tokens.json");

        using (var created = await server.Client.PostAsJsonAsync("/api/v1/tokens", new { name = "a", scope = "read" }))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        using (var second = await server.Client.PostAsJsonAsync("/api/v1/tokens", new { name = "b", scope = "write" }))
        {
            Assert.Equal(HttpStatusCode.Created, second.StatusCode);
        }

        string text = Encoding.UTF8.GetString(await File.ReadAllBytesAsync(file));
        Assert.Contains("\"name\": \"a\"", text, StringComparison.Ordinal);
        Assert.Contains("\"name\": \"b\"", text, StringComparison.Ordinal);
        Assert.Equal(PrivateFiles.FileMode, File.GetUnixFileMode(file));
        Assert.Equal(PrivateFiles.FileMode, File.GetUnixFileMode(Path.Combine(server.Server.DataDirectory, "admin-token.sha256")));
        Assert.False(File.Exists(file + ".tmp"));
    }
}
