using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Npgsql;

/// <summary>
/// A throwaway PostgreSQL server from the binaries installed on this machine (Debian's `postgresql` package), in a
/// temporary folder on a free loopback port with trust authentication, so that the bench can compare our wire protocol
/// with PostgreSQL's own on the same rows. PostgreSQL refuses to run as root, so as root it runs as the `postgres` user.
/// </summary>
internal sealed class PostgresCluster : IAsyncDisposable
{
    private readonly Process _server;
    private readonly string _folder;

    private PostgresCluster(Process server, string folder, int port, string version)
    {
        _server = server;
        _folder = folder;
        Port = port;
        Version = version;
    }

    public int Port { get; }

    public string Version { get; }

    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=bench;Database=postgres;Pooling=true;Command Timeout=300";

    /// <summary>The newest installed server's bin folder, or null when PostgreSQL's server is not installed.</summary>
    public static string? FindBinaries()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        const string Root = "/usr/lib/postgresql";
        if (!Directory.Exists(Root))
        {
            return null;
        }

        return Directory.GetDirectories(Root)
            .Select(directory => Path.Combine(directory, "bin"))
            .Where(bin => File.Exists(Path.Combine(bin, "initdb")) && File.Exists(Path.Combine(bin, "postgres")))
            .OrderByDescending(bin => int.TryParse(Path.GetFileName(Path.GetDirectoryName(bin)), NumberStyles.None, CultureInfo.InvariantCulture, out int major) ? major : 0)
            .FirstOrDefault();
    }

    public static async Task<PostgresCluster> StartAsync(string binaries)
    {
        string folder = Path.Combine(Path.GetTempPath(), "plexus-pgwire-bench-postgres-" + Guid.NewGuid().ToString("N"));
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("the PostgreSQL baseline runs Debian's server binaries, on Linux only");
        }

        Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        bool root = Environment.UserName == "root";
        if (root)
        {
            await RunAsync("chown", ["postgres:postgres", folder]);
        }

        await RunAsync(AsServerUser(root, Path.Combine(binaries, "initdb"), ["-D", folder, "-A", "trust", "-U", "bench", "-E", "UTF8", "--no-sync"]));

        int port = FreePort();
        var start = AsServerUser(root, Path.Combine(binaries, "postgres"),
            ["-D", folder, "-p", port.ToString(CultureInfo.InvariantCulture), "-k", folder, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "jit=off"]);
        var server = Process.Start(start)!;
        server.OutputDataReceived += (_, _) => { };
        server.ErrorDataReceived += (_, _) => { };
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();

        var cluster = new PostgresCluster(server, folder, port, Path.GetFileName(Path.GetDirectoryName(binaries)!));
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await using var connection = new NpgsqlConnection(cluster.ConnectionString);
                await connection.OpenAsync();
                return cluster;
            }
            catch (NpgsqlException) when (deadline.Elapsed < TimeSpan.FromSeconds(30) && !server.HasExited)
            {
                await Task.Yield();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_server.HasExited)
        {
            // Fast shutdown (SIGINT) of the one process we started; it takes its backends with it.
            using (var stop = Process.Start("kill", ["-INT", _server.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await stop.WaitForExitAsync();
            }

            await _server.WaitForExitAsync();
        }

        _server.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    // setpriv execs the program in place (unlike su or runuser), so the process id we hold is PostgreSQL's own.
    private static ProcessStartInfo AsServerUser(bool root, string program, string[] arguments)
    {
        var start = new ProcessStartInfo(root ? "setpriv" : program) { RedirectStandardOutput = true, RedirectStandardError = true };
        string[] all = root ? ["--reuid=postgres", "--regid=postgres", "--init-groups", program, .. arguments] : arguments;
        foreach (string argument in all)
        {
            start.ArgumentList.Add(argument);
        }

        return start;
    }

    private static Task RunAsync(string program, string[] arguments) => RunAsync(new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true });

    private static async Task RunAsync(ProcessStartInfo start)
    {
        string program = start.FileName;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        string error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        await output;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', start.ArgumentList)} failed with exit code {process.ExitCode}: {error}");
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
