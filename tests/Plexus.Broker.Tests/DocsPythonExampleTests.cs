using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Plexus.TestKit;

namespace Plexus.Broker.Tests;

/// <summary>
/// The Python example of docs/mqtt.md, as written, under the paho-mqtt Debian ships (1.6): it stores its row, and what
/// the page says about a refused publish is what happens. Skipped, with the reason, where paho-mqtt is not installed
/// (scripts/test.sh installs it).
/// </summary>
public sealed partial class DocsPythonExampleTests
{
    internal const string Python = "/usr/bin/python3";

    [PahoFact]
    public async Task Python_example_of_the_mqtt_page_stores_its_row()
    {
        await using var server = await PlexusTestServer.StartAsync();

        var (exit, output, errors) = await RunExampleAsync(server, Example());

        Assert.True(exit == 0, errors);
        Assert.Equal("", output.Trim());
        var rows = await server.RowsAsync("SELECT device, temp FROM telemetry");
        Assert.Equal("truck-7", rows[0][0].GetString());
        Assert.Equal(21.5, rows[0][1].GetDouble());
    }

    [PahoFact]
    public async Task A_refused_publish_in_the_python_example_shows_as_the_page_says()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string refused = Example().Replace("""json.dumps({"temp": 21.5})""", "\"not json\"", StringComparison.Ordinal);

        var (exit, output, errors) = await RunExampleAsync(server, refused);

        Assert.True(exit == 0, errors);
        if (PahoVersion().StartsWith('1'))
        {
            Assert.Equal("", output.Trim()); // paho 1.6: nothing tells the publisher
        }
        else
        {
            Assert.Contains("refused:", output, StringComparison.Ordinal);
        }

        var deadLetters = await server.RowsAsync(SqlOfTheDeadLettersExample());
        Assert.Equal("truck-7", deadLetters[0][0].GetString());
        Assert.Contains("invalid JSON", deadLetters[0][2].GetString(), StringComparison.Ordinal);
    }

    private static string Page() => DocsPages.Text("mqtt.md");

    private static string Example() => Assert.Single(DocsPages.Runnable("mqtt.md", "python")).Body;

    private static string SqlOfTheDeadLettersExample() =>
        DeadLettersQuery().Match(Page()) is { Success: true } match ? match.Groups[1].Value : throw new InvalidOperationException("docs/mqtt.md has no dead_letters query");

    private static async Task<(int ExitCode, string Output, string Errors)> RunExampleAsync(PlexusTestServer server, string example)
    {
        // The page connects to the default port; the test server listens on one of its own.
        string script = example.Replace("client.connect(\"127.0.0.1\", 1883)", $"client.connect(\"127.0.0.1\", {server.MqttEndpoint!.Port.ToString(CultureInfo.InvariantCulture)})", StringComparison.Ordinal);
        Assert.NotEqual(example, script);
        return await ChildProcess.RunAsync(Python, ["-c", script], new Dictionary<string, string> { ["PLEXUS_TOKEN"] = PlexusTestServer.AdminToken });
    }

    internal static string PahoVersion()
    {
        using var process = Process.Start(new ProcessStartInfo(Python, ["-c", "import paho.mqtt; print(paho.mqtt.__version__)"]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        string version = process.StandardOutput.ReadToEnd().Trim();
        process.WaitForExit(30_000);
        return process.ExitCode == 0 ? version : "";
    }

    [GeneratedRegex("plexus query \"(SELECT [^\"]*FROM dead_letters[^\"]*)\"")]
    private static partial Regex DeadLettersQuery();
}

/// <summary>Runs where /usr/bin/python3 has paho-mqtt; skipped with the reason otherwise.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class PahoFactAttribute : FactAttribute
{
    private static readonly string? WhyNot = !File.Exists(DocsPythonExampleTests.Python)
        ? $"{DocsPythonExampleTests.Python} is missing: install Debian's python3-paho-mqtt package (scripts/test.sh does)"
        : DocsPythonExampleTests.PahoVersion().Length == 0 ? "paho-mqtt is missing: install Debian's python3-paho-mqtt package (scripts/test.sh does)" : null;

    public PahoFactAttribute()
    {
        if (WhyNot is not null)
        {
            Skip = WhyNot;
        }
    }
}
