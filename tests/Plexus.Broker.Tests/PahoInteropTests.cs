using System.Globalization;
using MQTTnet;
using MQTTnet.Formatter;
using Plexus.Core;
using Plexus.TestKit;
using Xunit.Abstractions;

namespace Plexus.Broker.Tests;

/// <summary>
/// The Eclipse Paho interoperability suites (PahoInterop/, copied with their licence) against a real Plexus server,
/// each test in its own python3 process. As the suites are meant to run, one broker serves a whole suite (each test
/// cleans up its own client ids first). Each version's suite (the MQTT 5 one in two halves) and each repeat has a class (and broker) of its own, so
/// the five run side by side: the suites mostly wait on their own sleeps and timeouts, using little CPU. The tests the
/// broker does not pass yet are skipped with the statement of the specification they check.
/// </summary>
public sealed class PahoMqtt311SuiteTests(PahoBroker broker, ITestOutputHelper output) : IClassFixture<PahoBroker>
{
    [PythonTheory]
    [InlineData("testBasic")]
    [InlineData("test_retained_messages")]
    [InlineData("test_zero_length_clientid")]
    [InlineData("test_offline_message_queueing")]
    [InlineData("test_overlapping_subscriptions")]
    [InlineData("test_keepalive")]
    [InlineData("test_redelivery_on_reconnect")]
    [InlineData("test_subscribe_failure")]
    [InlineData("test_dollar_topics")]
    [InlineData("test_unsubscribe")]
    public Task Mqtt311_suite_test_passes(string test) => broker.RunAsync(output, "3", test);
}

/// <summary>
/// The MQTT 5.0 suite: see <see cref="PahoMqtt311SuiteTests"/>. Its 27 tests are split over two classes, each with
/// its own broker, so that the halves run side by side (the suite's tests mostly wait on their own sleeps).
/// </summary>
public sealed class PahoMqtt5SuiteTests(PahoBroker broker, ITestOutputHelper output) : IClassFixture<PahoBroker>
{
    [PythonTheory]
    [InlineData("test_basic")]
    [InlineData("test_retained_message")]
    [InlineData("test_will_message")]
    [InlineData("test_zero_length_clientid")]
    [InlineData("test_offline_message_queueing")]
    [InlineData("test_overlapping_subscriptions")]
    [InlineData("test_keepalive")]
    [InlineData("test_redelivery_on_reconnect")]
    [InlineData("test_subscribe_failure", Skip = "the Paho MQTT 5 client's SUBACK parser accepts only 0, 1, 2 and 0x80 (it cites MQTT5-3.9.3-2), while MQTT 5 section 3.9.3 lists 0x87 Not authorized, which the broker sends for a refused filter (TokenTopicAclTests checks it)")]
    [InlineData("test_dollar_topics")]
    [InlineData("test_unsubscribe")]
    [InlineData("test_session_expiry")]
    [InlineData("test_user_properties")]
    [InlineData("test_payload_format")]
    public Task Mqtt5_suite_test_passes(string test) => broker.RunAsync(output, "5", test);
}

/// <summary>The second half of the MQTT 5.0 suite, on a broker of its own: see <see cref="PahoMqtt5SuiteTests"/>.</summary>
public sealed class PahoMqtt5SuiteSecondHalfTests(PahoBroker broker, ITestOutputHelper output) : IClassFixture<PahoBroker>
{
    [PythonTheory]
    [InlineData("test_publication_expiry")]
    [InlineData("test_subscribe_options")]
    [InlineData("test_assigned_clientid")]
    [InlineData("test_subscribe_identifiers")]
    [InlineData("test_request_response")]
    [InlineData("test_client_topic_alias")]
    [InlineData("test_server_topic_alias")]
    [InlineData("test_maximum_packet_size")]
    [InlineData("test_server_keep_alive")]
    [InlineData("test_flow_control1")]
    [InlineData("test_flow_control2")]
    [InlineData("test_will_delay")]
    [InlineData("test_shared_subscriptions")]
    public Task Mqtt5_suite_test_passes(string test) => broker.RunAsync(output, "5", test);
}

public sealed class PahoUnsubscribe311Tests(PahoBroker broker, ITestOutputHelper output) : IClassFixture<PahoBroker>
{
    /// <summary>
    /// An UNSUBSCRIBE takes effect before anything published after it is routed (MQTT 3.1.1 section 3.10.4, MQTT 5
    /// section 3.10.4: the server stops adding new messages for delivery to the client): the Paho test publishes from a
    /// second client right after sending the UNSUBSCRIBE, which a race between the two clients' packets failed about one
    /// run in ten. The test does not wait for the UNSUBACK, and the specification lets a message the server routes before
    /// it has read the UNSUBSCRIBE be delivered: on CI's shared machine that happened in 2 of 4 runs of the suite (one
    /// run of twenty each time), so one run of the twenty may fail if its rerun passes. What is exact after the UNSUBACK
    /// is <see cref="BrokerProtocolTests"/>' to check.
    /// </summary>
    [PythonFact]
    public Task Mqtt311_unsubscribe_suite_test_passes_twenty_runs_with_at_most_one_rerun() => broker.RepeatAsync(output, "3", "test_unsubscribe", 20);
}

public sealed class PahoUnsubscribe5Tests(PahoBroker broker, ITestOutputHelper output) : IClassFixture<PahoBroker>
{
    /// <summary>The same for MQTT 5, in a class of its own so that the two repeats run side by side.</summary>
    [PythonFact]
    public Task Mqtt5_unsubscribe_suite_test_passes_twenty_runs_with_at_most_one_rerun() => broker.RepeatAsync(output, "5", "test_unsubscribe", 20);
}

/// <summary>One class's server, started (and warmed up) by its first test, and the runner of one Paho test against it.</summary>
public sealed class PahoBroker : IAsyncLifetime
{
    private static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(90);

    private Task<(PlexusTestServer Server, string Token)>? _started;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_started is not null)
        {
            await (await _started).Server.DisposeAsync();
        }
    }

    /// <summary>
    /// Runs one suite test, and once more if it fails: the suites time the broker with fixed sleeps (a PUBACK within
    /// 4 s, retained messages within 1 s), which a machine shared by two test projects and Chromium has outrun in CI
    /// (test_dollar_topics once, passing 40 times in a row here under three busy cores). A broker that breaks the
    /// behaviour fails both runs; the first failure is printed either way.
    /// </summary>
    public async Task RunAsync(ITestOutputHelper output, string version, string test)
    {
        var (exit, errors) = await RunPahoAsync(output, version, test);
        if (exit != 0)
        {
            output.WriteLine($"Paho {version} Test.{test} failed once and runs again; its errors:\n{errors}");
            (exit, errors) = await RunPahoAsync(output, version, test);
        }

        Assert.True(exit == 0, $"Paho {version} Test.{test} failed twice in a row:\n{errors}");
    }

    /// <summary>Runs one suite test <paramref name="times"/> times; one failed run may be rerun once, a second failure fails.</summary>
    public async Task RepeatAsync(ITestOutputHelper output, string version, string test, int times)
    {
        int? rerun = null;
        for (int run = 1; run <= times; run++)
        {
            var (exit, errors) = await RunPahoAsync(output, version, test);
            if (exit != 0 && rerun is null)
            {
                rerun = run;
                output.WriteLine($"Paho {version} Test.{test} failed in run {run} and runs again; its errors:\n{errors}");
                (exit, errors) = await RunPahoAsync(output, version, test);
            }

            Assert.True(exit == 0, $"Paho {version} Test.{test} failed in run {run}{(rerun is { } first ? $" (run {first} was rerun already)" : "")}:\n{errors}");
        }
    }
    /// <summary>
    /// The Paho clients wait only 0.5 s for a CONNACK: a broker's first connections, still compiling its code, can take
    /// longer on a busy machine, so each version connects, subscribes and publishes once before the suite runs. The
    /// suites connect with a write token that may not subscribe to test/nosubscribe, which test_subscribe_failure expects.
    /// </summary>
    private static async Task<(PlexusTestServer Server, string Token)> StartWarmAsync()
    {
        // The suite's test_server_keep_alive expects a requested 120 s keep-alive lowered to 60 s.
        var server = await PlexusTestServer.StartAsync(configure: o => o with { MqttMaxKeepAlive = TimeSpan.FromSeconds(60) });
        string token = server.Server.ApiTokens.Create("paho", Api.Auth.ApiScope.Write, mqtt: MqttTopicRules.Create(null, null, ["test/nosubscribe"], null)).Token;
        foreach (var version in new[] { MqttProtocolVersion.V311, MqttProtocolVersion.V500 })
        {
            using var client = await MqttTestClients.ConnectAsync(server, version);
            await client.SubscribeAsync("warm-up/#");
            await client.PublishAsync("warm-up/" + version, "x");
            await client.UnsubscribeAsync("warm-up/#");
            await client.DisconnectAsync();
        }

        return (server, token);
    }

    private async Task<(int ExitCode, string Errors)> RunPahoAsync(ITestOutputHelper output, string version, string test)
    {
        var (server, token) = await (_started ??= StartWarmAsync());
        var endpoint = server.MqttEndpoint!;
        var (exit, stdout, stderr) = await ChildProcess.RunAsync(
            DocsPythonExampleTests.Python,
            ["-B", Path.Combine(AppContext.BaseDirectory, "PahoInterop", "run_one.py"), version, endpoint.Address.ToString(), endpoint.Port.ToString(CultureInfo.InvariantCulture), test.Length == 0 ? "Test" : "Test." + test],
            new Dictionary<string, string> { ["PAHO_USER"] = "paho", ["PAHO_PASS"] = token },
            TestTimeout);
        output.WriteLine(stdout);
        output.WriteLine(stderr);
        return (exit, stderr);
    }
}

/// <summary>Runs where /usr/bin/python3 exists (the Paho suites need nothing beyond its standard library).</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class PythonTheoryAttribute : TheoryAttribute
{
    public PythonTheoryAttribute()
    {
        if (!File.Exists(DocsPythonExampleTests.Python))
        {
            Skip = $"{DocsPythonExampleTests.Python} is missing: install Debian's python3 package (scripts/test.sh does)";
        }
    }
}

/// <summary>A fact that runs where /usr/bin/python3 exists.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class PythonFactAttribute : FactAttribute
{
    public PythonFactAttribute()
    {
        if (!File.Exists(DocsPythonExampleTests.Python))
        {
            Skip = $"{DocsPythonExampleTests.Python} is missing: install Debian's python3 package (scripts/test.sh does)";
        }
    }
}
