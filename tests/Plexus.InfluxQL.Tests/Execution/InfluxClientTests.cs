using System.Diagnostics;
using System.Text.Json;
using Plexus.TestKit;

namespace Plexus.InfluxQL.Tests.Execution;

/// <summary>
/// The InfluxDB 1.x clients people already have, as child processes against a real server: Debian's <c>influx</c> CLI
/// (package influxdb-client, 1.6) and the Python <c>influxdb</c> library (package python3-influxdb). Each is skipped,
/// with the reason printed, where its package is not installed (scripts/test.sh installs both).
/// </summary>
public sealed class InfluxClientTests(InfluxLab lab) : IClassFixture<InfluxLab>
{
    internal const string Influx = "/usr/bin/influx";
    internal const string Python = "/usr/bin/python3";

    private static Task<(int ExitCode, string Output, string Errors)> RunAsync(string program, params string[] arguments) =>
        ChildProcess.RunAsync(program, arguments);

    private Task<(int ExitCode, string Output, string Errors)> InfluxAsync(string statement, params string[] more) =>
        RunAsync(Influx, ["-host", "127.0.0.1", "-port", lab.Server.Address.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-username", "x", "-password", PlexusTestServer.AdminToken, "-database", "lab", .. more, "-execute", statement]);

    [InfluxCliFact]
    public async Task Influx_cli_lists_databases()
    {
        var (exit, output, errors) = await InfluxAsync("SHOW DATABASES");
        Assert.True(exit == 0, errors);
        Assert.Equal(["name: databases", "name", "----", "lab", "lab2", "main"], output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [InfluxCliFact]
    public async Task Influx_cli_runs_group_by_time_with_fill_in_csv()
    {
        var (exit, output, errors) = await InfluxAsync(
            "SELECT mean(\"usage\") FROM \"cpu\" WHERE \"host\" = 'b' AND time >= 1700000150000ms AND time <= 1700000330000ms GROUP BY time(1m) fill(null)", "-format", "csv");
        Assert.True(exit == 0, errors);
        string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("name,time,mean", lines[0]);

        // Buckets of 22:15, 22:16, 22:17 (host b is silent: empty) and 22:18; the CLI writes times in nanoseconds.
        Assert.Equal(["cpu,1700000100000000000,", "cpu,1700000160000000000,", "cpu,1700000220000000000,", "cpu,1700000280000000000,"], lines[1..].Select(l => l[..(l.LastIndexOf(',') + 1)]));
        Assert.Equal("", lines[3].Split(',')[2]);
        var expected = await lab.Server.RowsAsync("SELECT avg(usage) FROM lab.cpu WHERE host = 'b' AND epoch_ns(time) BETWEEN 1700000280000000000 AND 1700000330000000000");
        Assert.Equal(expected[0][0].GetDouble(), double.Parse(lines[4].Split(',')[2], System.Globalization.CultureInfo.InvariantCulture), 9);
    }

    [InfluxCliFact]
    public async Task Influx_cli_shows_rfc3339_times_and_statement_errors()
    {
        var (exit, output, errors) = await InfluxAsync("SELECT \"usage\" FROM \"cpu\" WHERE \"host\" = 'a' LIMIT 2", "-precision", "rfc3339");
        Assert.True(exit == 0, errors);
        Assert.Contains("2023-11-14T22:13:20Z 5.5", output, StringComparison.Ordinal);
        Assert.Contains("2023-11-14T22:13:30Z 12.5", output, StringComparison.Ordinal);

        (exit, output, errors) = await InfluxAsync("SHOW USERS");
        Assert.NotEqual(0, exit);
        Assert.Contains("ERR: SHOW USERS is not supported by Plexus", output + errors, StringComparison.Ordinal);
    }

    [InfluxPythonFact]
    public async Task Python_influxdb_client_queries_lists_databases_and_measurements()
    {
        const string Script = """
            import json, sys
            from influxdb import InfluxDBClient
            client = InfluxDBClient('127.0.0.1', int(sys.argv[1]), 'x', sys.argv[2], 'lab')
            result = client.query("SELECT mean(\"usage\") FROM \"cpu\" WHERE time >= 1700000000000ms AND time <= 1700000590000ms GROUP BY \"host\"")
            means = {tags['host']: list(points)[0]['mean'] for (name, tags), points in result.items()}
            chunked = client.query("SELECT \"usage\" FROM \"cpu\" WHERE \"host\" = 'a'", epoch='ms', chunked=True, chunk_size=7)
            rows = sum(len(list(r.get_points())) for r in chunked)
            try:
                client.query("SELECT * FROM cpu", database='nothere')
                error = None
            except Exception as e:
                error = str(e)
            print(json.dumps({'databases': client.get_list_database(), 'measurements': client.get_list_measurements(), 'means': means, 'rows': rows, 'error': error}))
            """;
        var (exit, output, errors) = await RunAsync(Python, "-c", Script, lab.Server.Address.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), PlexusTestServer.AdminToken);
        Assert.True(exit == 0, errors);
        var answer = JsonDocument.Parse(output).RootElement;

        Assert.Equal(["lab", "lab2", "main"], answer.GetProperty("databases").EnumerateArray().Select(d => d.GetProperty("name").GetString()));
        Assert.Equal(["cpu", "cpu_temp", "disk,io", "mem"], answer.GetProperty("measurements").EnumerateArray().Select(d => d.GetProperty("name").GetString()));
        var expected = await lab.Server.RowsAsync("SELECT host, avg(usage) FROM lab.cpu WHERE usage IS NOT NULL GROUP BY host ORDER BY host");
        var means = answer.GetProperty("means");
        Assert.Equal(expected.Count, means.EnumerateObject().Count());
        foreach (var row in expected)
        {
            Assert.Equal(row[1].GetDouble(), means.GetProperty(row[0].GetString()!).GetDouble(), 9);
        }

        Assert.Equal(60, answer.GetProperty("rows").GetInt32());
        Assert.Contains("database not found: nothere", answer.GetProperty("error").GetString(), StringComparison.Ordinal);
    }
}

/// <summary>Runs where Debian's influx CLI is installed; skipped with the reason printed elsewhere.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class InfluxCliFactAttribute : FactAttribute
{
    public InfluxCliFactAttribute()
    {
        if (!File.Exists(InfluxClientTests.Influx))
        {
            Skip = $"{InfluxClientTests.Influx} is missing: install Debian's influxdb-client package (scripts/test.sh does)";
        }
    }
}

/// <summary>Runs where Python's influxdb library is installed; skipped with the reason printed elsewhere.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class InfluxPythonFactAttribute : FactAttribute
{
    private static readonly string? WhyNot = Probe();

    public InfluxPythonFactAttribute()
    {
        if (WhyNot is not null)
        {
            Skip = WhyNot;
        }
    }

    private static string? Probe()
    {
        if (!File.Exists(InfluxClientTests.Python))
        {
            return $"{InfluxClientTests.Python} is missing: install Debian's python3-influxdb package (scripts/test.sh does)";
        }

        using var process = Process.Start(new ProcessStartInfo(InfluxClientTests.Python, ["-c", "import influxdb"]) { RedirectStandardError = true })!;
        process.WaitForExit(30_000);
        return process.ExitCode == 0 ? null : "the Python influxdb library is missing: install Debian's python3-influxdb package (scripts/test.sh does)";
    }
}
