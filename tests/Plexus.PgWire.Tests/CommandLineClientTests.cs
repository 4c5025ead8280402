using System.Diagnostics;
using System.Globalization;

namespace Plexus.PgWire.Tests;

/// <summary>
/// The PostgreSQL clients people have, as child processes against a real server: Debian's <c>psql</c> (package
/// postgresql-client) and Python's <c>psycopg2</c> (package python3-psycopg2). Each is skipped, with the reason, where
/// its package is not installed (scripts/test.sh installs both).
/// </summary>
public sealed class CommandLineClientTests(PgLab lab) : IClassFixture<PgLab>
{
    internal const string Psql = "/usr/bin/psql";
    internal const string Python = "/usr/bin/python3";

    internal static readonly string NodeClients = Path.Combine(AppContext.BaseDirectory, "clients", "node");

    private async Task<(int ExitCode, string Output, string Errors)> PsqlAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo(Psql) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in (string[])["-h", "127.0.0.1", "-p", lab.Port.ToString(CultureInfo.InvariantCulture), "-U", "analyst", "-d", "main", "-X", "-v", "ON_ERROR_STOP=1", .. arguments])
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["PGPASSWORD"] = lab.ReadToken;
        start.Environment["PGCONNECT_TIMEOUT"] = "10";
        return await RunAsync(start);
    }

    internal static async Task<(int ExitCode, string Output, string Errors)> RunAsync(ProcessStartInfo start)
    {
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output, await errors);
    }

    [PsqlFact]
    public async Task Psql_lists_measurements_as_tables()
    {
        var (exit, output, errors) = await PsqlAsync("-c", "\\dt");
        Assert.True(exit == 0, errors);
        Assert.Contains(output.Split('\n'), line => line.Replace(" ", "", StringComparison.Ordinal) == "main|cpu|table|plexus");
        Assert.DoesNotContain("_plexus", output, StringComparison.Ordinal);
    }

    [PsqlFact]
    public async Task Psql_describes_a_measurement_with_its_columns_and_types()
    {
        var (exit, output, errors) = await PsqlAsync("-c", "\\d cpu");
        Assert.True(exit == 0, errors);
        Assert.Contains("Table \"main.cpu\"", output, StringComparison.Ordinal);
        string[] lines = [.. output.Split('\n').Select(line => line.Replace(" ", "", StringComparison.Ordinal))];
        Assert.Contains("usage|float8|||", lines);
        Assert.Contains("temp|int8|||", lines);
        Assert.Contains("host|varchar|||", lines);
    }

    [PsqlFact]
    public async Task Psql_runs_a_query_with_the_same_answer_as_the_sql_api()
    {
        const string sql = "SELECT host, count(*), round(avg(usage), 3) FROM cpu GROUP BY host ORDER BY host";
        var expected = await lab.Server.RowsAsync(sql);
        var (exit, output, errors) = await PsqlAsync("-A", "-t", "-F", ",", "-c", sql);
        Assert.True(exit == 0, errors);
        Assert.Equal(expected.Select(row => string.Join(",", row[0].GetString(), row[1].GetInt64(), row[2].GetDouble().ToString(CultureInfo.InvariantCulture))), output.Trim().Split('\n'));
    }

    [PsqlFact]
    public async Task Psql_copies_a_query_to_a_csv_file()
    {
        string file = Path.Combine(Path.GetTempPath(), $"plexus-pg-{Guid.NewGuid():N}.csv");
        try
        {
            var (exit, _, errors) = await PsqlAsync("-c", $"\\copy (SELECT host, temp, note FROM cpu ORDER BY time LIMIT 2) TO '{file}' WITH CSV HEADER");
            Assert.True(exit == 0, errors);
            Assert.Equal("host,temp,note\na,20,n0\nb,21,n1\n", await File.ReadAllTextAsync(file));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [PsqlFact]
    public async Task Psql_with_a_read_token_cannot_write()
    {
        var (exit, _, errors) = await PsqlAsync("-c", "CREATE TABLE x (a INTEGER)");
        Assert.NotEqual(0, exit);
        Assert.Contains("read-only", errors, StringComparison.Ordinal);
    }

    [NodePostgresFact]
    public async Task Node_postgres_queries_with_parameters_and_gets_the_sql_api_answer()
    {
        var expected = await lab.Server.RowsAsync("SELECT host, count(*), sum(temp) FROM cpu GROUP BY host ORDER BY host");
        var start = new ProcessStartInfo("node", ["pg-query.mjs", lab.Port.ToString(CultureInfo.InvariantCulture), lab.ReadToken])
        {
            WorkingDirectory = NodeClients,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };

        // node-postgres reads a timestamp without time zone in the process's zone.
        start.Environment["TZ"] = "UTC";
        var (exit, output, errors) = await RunAsync(start);
        Assert.True(exit == 0, errors);
        using var answer = System.Text.Json.JsonDocument.Parse(output);
        var root = answer.RootElement;
        var perHost = root.GetProperty("perHost").EnumerateArray().ToList();
        Assert.Equal(expected.Count, perHost.Count);
        for (int i = 0; i < perHost.Count; i++)
        {
            // node-postgres hands int8 and numeric over as strings, to keep their precision.
            Assert.Equal(expected[i][0].GetString(), perHost[i].GetProperty("host").GetString());
            Assert.Equal(expected[i][1].GetInt64().ToString(CultureInfo.InvariantCulture), perHost[i].GetProperty("n").GetString());
            Assert.Equal(expected[i][2].GetRawText(), perHost[i].GetProperty("total").GetString());
        }

        Assert.Equal("15", root.GetProperty("filtered").GetString());
        Assert.Equal("2023-11-14T22:13:20.000Z", root.GetProperty("first").GetProperty("time").GetString());
        Assert.True(root.GetProperty("first").GetProperty("ok").GetBoolean());
        Assert.Equal("n0", root.GetProperty("first").GetProperty("note").GetString());
        Assert.Equal("42501", root.GetProperty("refused").GetString());
    }

    [PsycopgFact]
    public async Task Psycopg2_queries_with_parameters_and_gets_the_sql_api_answer()
    {
        var expected = await lab.Server.RowsAsync("SELECT count(*), sum(temp) FROM cpu WHERE host = 'a'");
        const string script = """
            import sys, psycopg2
            connection = psycopg2.connect(host="127.0.0.1", port=int(sys.argv[1]), user="notebook", password=sys.argv[2], dbname="main")
            cursor = connection.cursor()
            cursor.execute("SELECT count(*), sum(temp) FROM cpu WHERE host = %s", ("a",))
            count, total = cursor.fetchone()
            cursor.execute("SELECT time, usage FROM cpu ORDER BY time LIMIT 1")
            time, usage = cursor.fetchone()
            print(count, total, time.isoformat(), usage)
            connection.rollback()
            connection.close()
            """;
        var start = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        start.ArgumentList.Add(lab.Port.ToString(CultureInfo.InvariantCulture));
        start.ArgumentList.Add(lab.ReadToken);
        var (exit, output, errors) = await RunAsync(start);
        Assert.True(exit == 0, errors);
        Assert.Equal($"{expected[0][0].GetInt64()} {expected[0][1].GetInt64()} 2023-11-14T22:13:20 0.0", output.Trim());
    }
}

/// <summary>Runs where node-postgres is installed (npm install in tests/clients/node).</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class NodePostgresFactAttribute : FactAttribute
{
    public NodePostgresFactAttribute()
    {
        if (!Directory.Exists(Path.Combine(CommandLineClientTests.NodeClients, "node_modules", "pg")))
        {
            Skip = "node-postgres is missing: run scripts/test.sh, which installs it (npm install in tests/clients/node)";
        }
    }
}

/// <summary>Runs where Debian's psql is installed.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class PsqlFactAttribute : FactAttribute
{
    public PsqlFactAttribute()
    {
        if (!File.Exists(CommandLineClientTests.Psql))
        {
            Skip = $"{CommandLineClientTests.Psql} is missing: install Debian's postgresql-client package (scripts/test.sh does)";
        }
    }
}

/// <summary>Runs where Python's psycopg2 is installed.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class PsycopgFactAttribute : FactAttribute
{
    private static readonly string? WhyNot = Probe();

    public PsycopgFactAttribute()
    {
        if (WhyNot is not null)
        {
            Skip = WhyNot;
        }
    }

    private static string? Probe()
    {
        if (!File.Exists(CommandLineClientTests.Python))
        {
            return $"{CommandLineClientTests.Python} is missing: install Debian's python3-psycopg2 package (scripts/test.sh does)";
        }

        using var process = Process.Start(new ProcessStartInfo(CommandLineClientTests.Python, ["-c", "import psycopg2"]) { RedirectStandardError = true })!;
        process.WaitForExit(30_000);
        return process.ExitCode == 0 ? null : "Python's psycopg2 is missing: install Debian's python3-psycopg2 package (scripts/test.sh does)";
    }
}
