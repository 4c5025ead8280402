using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Plexus.Compare;

namespace Plexus.MqttBench;

/// <summary>
/// One load against one target in one case (transport, subscriber). <see cref="Delivered"/> is what counts: rows
/// stored (Plexus) or messages the subscriber received (Mosquitto). <see cref="Forwarded"/> is what the subscriber
/// received, when the load had one (for Mosquitto the same as <see cref="Delivered"/>).
/// </summary>
internal sealed record RunResult(
    string Target,
    int Qos,
    int Run,
    long Published,
    long Failed,
    long Delivered,
    double PublishSeconds,
    double Seconds,
    double GeneratorCpuSeconds,
    double ServerCpuSeconds,
    long ServerPeakRssBytes,
    string Transport,
    string Subscriber,
    long? Forwarded,
    double? ForwardSeconds)
{
    /// <summary>Delivered (stored or received) messages per second, from the first publish to the last delivery.</summary>
    public double Rate => Delivered / Seconds;

    /// <summary>Sent (acknowledged at QoS 1) but not delivered; Plexus must lose nothing.</summary>
    public long Lost => Published - Delivered;

    /// <summary>Messages the subscriber received per second, from the first publish to the last one received.</summary>
    public double? ForwardRate => Forwarded / ForwardSeconds;

    /// <summary>The server process's CPU time per delivered message, in microseconds.</summary>
    public double ServerCpuMicrosecondsPerMessage => ServerCpuSeconds / Delivered * 1e6;

    /// <summary>The case as the report names it, e.g. "tls, devices/# subscriber".</summary>
    public string Case => CaseName(Transport, Subscriber);

    public static string CaseName(string transport, string subscriber) =>
        $"{transport}, {(subscriber == MqttBenchOptions.DevicesSubscriber ? "devices/# subscriber" : "no subscriber")}";
}

/// <summary>The three targets of the comparison, in each case (transport, subscriber). Each load starts its server fresh and stops it by PID afterwards.</summary>
internal sealed class Targets(MqttBenchOptions options, HttpClient http)
{
    private const string AdminToken = "mqttbench-admin-token";

    // How long delivery may stall after the publishers finished before the count is taken as final.
    private static readonly TimeSpan Quiet = TimeSpan.FromSeconds(2);

    /// <summary>The generator alone: Mosquitto with nobody subscribed acknowledges and discards. Its rate bounds what the generator can offer.</summary>
    public Task<RunResult> GeneratorAsync(int qos, int run, BenchTransport transport, CancellationToken cancellation) =>
        MosquittoAsync(qos, run, transport, subscriberFilter: null, MqttBenchOptions.NoSubscriber, cancellation);

    /// <summary>
    /// Mosquitto forwarding the load to one subscriber: <c>devices/+/telemetry</c> when Plexus has no subscriber
    /// (the consumer a store would be), <c>devices/#</c> in the case with a <c>devices/#</c> subscriber on both.
    /// </summary>
    public Task<RunResult> MosquittoAsync(int qos, int run, BenchTransport transport, string subscriber, CancellationToken cancellation) =>
        MosquittoAsync(qos, run, transport, subscriber == MqttBenchOptions.DevicesSubscriber ? "devices/#" : "devices/+/telemetry", subscriber, cancellation);

    private async Task<RunResult> MosquittoAsync(int qos, int run, BenchTransport transport, string? subscriberFilter, string subscriberCase, CancellationToken cancellation)
    {
        string target = subscriberFilter is null ? "generator" : "mosquitto";
        string dir = FreshDirectory($"{target}-{transport.Name}-{subscriberCase}-q{qos}-r{run}");
        int port = FreePort();
        // Unlimited queues: a subscriber that falls behind is fed from memory instead of losing messages, like
        // Plexus's broker; persistence off: Mosquitto stores nothing (its forwarding rate is the reference).
        string tls = transport.Certificate is { } certificate ? $"certfile {certificate.CertificatePath}\nkeyfile {certificate.KeyPath}\n" : "";
        string config = Path.Combine(dir, "mosquitto.conf");
        await File.WriteAllTextAsync(config, $"""
            listener {port} 127.0.0.1
            {tls}allow_anonymous true
            persistence false
            max_queued_messages 0
            max_inflight_messages 0
            log_type error
            log_type warning

            """, cancellation);
        using var server = ChildProcess.Start("mosquitto", options.MosquittoExecutable, ["-c", config], Path.Combine(dir, "mosquitto.log"), dir);
        try
        {
            await WaitForPortAsync(port, server, cancellation);
            var devices = Enumerable.Range(0, options.Devices).Select(i => new DeviceIdentity(DeviceId(i), null)).ToList();
            await using var sub = subscriberFilter is null ? null : await BenchSubscriber.ConnectAsync(transport, port, subscriberFilter, qos, credentials: null, cancellation);
            await using var fleet = await ConnectFleetAsync(port, devices, transport);
            if (options.WarmupMessages > 0)
            {
                var warm = await fleet.PublishAsync(qos, options.WarmupMessages);
                await WaitQuietAsync(() => sub?.Received ?? warm.Published, warm.Published, cancellation);
                sub?.Reset();
            }

            double cpuBefore = server.CpuSeconds();
            var outcome = await fleet.PublishAsync(qos, options.MessagesPerDevice, options.WarmupMessages);
            long delivered = outcome.Published;
            long endTimestamp = outcome.EndTimestamp;
            if (sub is not null)
            {
                await WaitQuietAsync(() => sub.Received, outcome.Published, cancellation);
                delivered = sub.Received;
                endTimestamp = Math.Max(sub.LastReceivedTimestamp, outcome.StartTimestamp);
            }

            double seconds = Stopwatch.GetElapsedTime(outcome.StartTimestamp, endTimestamp).TotalSeconds;
            return new RunResult(target, qos, run, outcome.Published, outcome.Failed, delivered, outcome.Seconds, seconds, outcome.GeneratorCpuSeconds,
                server.CpuSeconds() - cpuBefore, server.PeakRssBytes(), transport.Name, subscriberCase,
                sub is null ? null : delivered, sub is null ? null : seconds);
        }
        finally
        {
            await server.StopAsync(TimeSpan.FromSeconds(30));
            Cleanup(dir);
        }
    }

    /// <summary>
    /// Plexus storing the load; with <paramref name="subscriber"/> <c>devices</c>, an application (the admin token)
    /// subscribed to <c>devices/#</c> at the load's QoS receives it too, which takes every message off the
    /// device fast path and through MQTTnet.
    /// </summary>
    public async Task<RunResult> PlexusAsync(int qos, int run, BenchTransport transport, string subscriber, CancellationToken cancellation)
    {
        string dir = FreshDirectory($"plexus-{transport.Name}-{subscriber}-q{qos}-r{run}");
        string data = Path.Combine(dir, "data");
        int httpPort = FreePort();
        int mqttPort = FreePort();
        List<string> arguments = ["serve", "--data", data, "--http", $"127.0.0.1:{httpPort}", "--mqtt", $"127.0.0.1:{mqttPort}", "--admin-token", AdminToken, "--log-level", "warning"];
        int devicePort = mqttPort;
        if (transport.Certificate is { } certificate)
        {
            devicePort = FreePort();
            arguments.AddRange(["--mqtt-tls", $"127.0.0.1:{devicePort}", "--mqtt-tls-cert", certificate.CertificatePath, "--mqtt-tls-key", certificate.KeyPath]);
        }

        using var server = ChildProcess.Start("plexus", options.PlexusExecutable, arguments, Path.Combine(dir, "plexus.log"), dir);
        try
        {
            var api = new Uri($"http://127.0.0.1:{httpPort}");
            await WaitHealthyAsync(api, server, cancellation);
            var devices = await RegisterDevicesAsync(api, cancellation);
            await using var sub = subscriber == MqttBenchOptions.DevicesSubscriber
                ? await BenchSubscriber.ConnectAsync(transport, devicePort, "devices/#", qos, ("bench-dashboard", AdminToken), cancellation)
                : null;
            await using var fleet = await ConnectFleetAsync(devicePort, devices, transport);

            // The warm-up lets the server's JIT and pools settle; its rows are counted and subtracted.
            long baseline = 0;
            if (options.WarmupMessages > 0)
            {
                var warm = await fleet.PublishAsync(qos, options.WarmupMessages);
                await WaitQuietAsync(async () => baseline = await CountAsync(api, cancellation), warm.Published, cancellation);
                if (sub is not null)
                {
                    await WaitQuietAsync(() => sub.Received, warm.Published, cancellation);
                    sub.Reset();
                }
            }

            double cpuBefore = server.CpuSeconds();
            var outcome = await fleet.PublishAsync(qos, options.MessagesPerDevice, options.WarmupMessages);

            // Durable rows are what counts: the count is read back with SQL. QoS 1 rows are committed before their
            // PUBACK, so the count is final at once; QoS 0 messages may still sit in socket buffers and the writer's
            // queue, so the count is polled until it stops growing, and the time is when it reached its final value.
            long stored = 0;
            long storedAt = outcome.EndTimestamp;
            await WaitQuietAsync(async () =>
            {
                long count = await CountAsync(api, cancellation) - baseline;
                if (count != stored)
                {
                    stored = count;
                    storedAt = Stopwatch.GetTimestamp();
                }

                return count;
            }, outcome.Published, cancellation);
            storedAt = Math.Max(storedAt, outcome.EndTimestamp);
            long? forwarded = null;
            double? forwardSeconds = null;
            if (sub is not null)
            {
                await WaitQuietAsync(() => sub.Received, outcome.Published, cancellation);
                forwarded = sub.Received;
                forwardSeconds = Stopwatch.GetElapsedTime(outcome.StartTimestamp, Math.Max(sub.LastReceivedTimestamp, outcome.StartTimestamp)).TotalSeconds;
            }

            double cpu = server.CpuSeconds() - cpuBefore;
            return new RunResult("plexus", qos, run, outcome.Published, outcome.Failed, stored, outcome.Seconds,
                Stopwatch.GetElapsedTime(outcome.StartTimestamp, storedAt).TotalSeconds, outcome.GeneratorCpuSeconds, cpu, server.PeakRssBytes(),
                transport.Name, subscriber, forwarded, forwardSeconds);
        }
        finally
        {
            await server.StopAsync(TimeSpan.FromSeconds(60));
            Cleanup(dir);
        }
    }

    private async Task<IDeviceFleet> ConnectFleetAsync(int port, IReadOnlyList<DeviceIdentity> devices, BenchTransport transport) =>
        options.Generator == "mqttnet" ? await DeviceFleet.ConnectAsync(port, devices, transport) : await RawDeviceFleet.ConnectAsync(port, devices, transport);

    private static string DeviceId(int i) => "bench-" + i.ToString("D4", CultureInfo.InvariantCulture);

    private async Task<List<DeviceIdentity>> RegisterDevicesAsync(Uri api, CancellationToken cancellation)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(api, "/api/v1/devices/bulk"))
        {
            Content = JsonContent.Create(Enumerable.Range(0, options.Devices).Select(i => new { id = DeviceId(i) }).ToArray()),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Token", AdminToken);
        using var response = await http.SendAsync(request, cancellation);
        string body = await response.Content.ReadAsStringAsync(cancellation);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"device registration failed: {(int)response.StatusCode} {body}");
        }

        using var json = JsonDocument.Parse(body);
        var devices = new List<DeviceIdentity>(options.Devices);
        foreach (var result in json.RootElement.GetProperty("results").EnumerateArray())
        {
            var device = result.GetProperty("device");
            devices.Add(new DeviceIdentity(device.GetProperty("id").GetString()!, device.GetProperty("token").GetString()!));
        }

        return devices.Count == options.Devices ? devices : throw new InvalidOperationException($"registered {devices.Count} of {options.Devices} devices: {body}");
    }

    private async Task<long> CountAsync(Uri api, CancellationToken cancellation)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(api, "/api/v1/sql"))
        {
            Content = new StringContent(JsonSerializer.Serialize(new { sql = "SELECT count(*) FROM telemetry" }), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Token", AdminToken);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/csv"));
        using var response = await http.SendAsync(request, cancellation);
        string body = await response.Content.ReadAsStringAsync(cancellation);
        if (!response.IsSuccessStatusCode)
        {
            // No telemetry table yet: nothing stored.
            return 0;
        }

        return long.Parse(body.Split('\n', StringSplitOptions.RemoveEmptyEntries)[1].Trim(), CultureInfo.InvariantCulture);
    }

    private static Task WaitQuietAsync(Func<long> count, long expected, CancellationToken cancellation) =>
        WaitQuietAsync(() => Task.FromResult(count()), expected, cancellation);

    /// <summary>Polls until the count reaches <paramref name="expected"/> or has not moved for <see cref="Quiet"/>.</summary>
    private static async Task WaitQuietAsync(Func<Task<long>> count, long expected, CancellationToken cancellation)
    {
        long last = -1;
        long lastChange = Stopwatch.GetTimestamp();
        while (true)
        {
            long now = await count();
            if (now >= expected)
            {
                return;
            }

            if (now != last)
            {
                last = now;
                lastChange = Stopwatch.GetTimestamp();
            }
            else if (Stopwatch.GetElapsedTime(lastChange) > Quiet)
            {
                return;
            }

            await Task.Delay(50, cancellation);
        }
    }

    private async Task WaitHealthyAsync(Uri api, ChildProcess server, CancellationToken cancellation)
    {
        long start = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(start) < TimeSpan.FromSeconds(60))
        {
            if (server.HasExited)
            {
                throw new InvalidOperationException($"plexus serve exited with code {server.ExitCode}");
            }

            try
            {
                using var response = await http.GetAsync(new Uri(api, "/health"), cancellation);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(100, cancellation);
        }

        throw new TimeoutException("plexus serve did not become healthy within 60 s");
    }

    private static async Task WaitForPortAsync(int port, ChildProcess server, CancellationToken cancellation)
    {
        long start = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(start) < TimeSpan.FromSeconds(30))
        {
            if (server.HasExited)
            {
                throw new InvalidOperationException($"mosquitto exited with code {server.ExitCode}");
            }

            try
            {
                using var socket = new TcpClient();
                await socket.ConnectAsync(IPAddress.Loopback, port, cancellation);
                return;
            }
            catch (SocketException)
            {
            }

            await Task.Delay(50, cancellation);
        }

        throw new TimeoutException($"mosquitto did not listen on port {port} within 30 s");
    }

    private string FreshDirectory(string name)
    {
        string dir = Path.Combine(options.WorkDirectory, name);
        if (Directory.Exists(dir))
        {
            Directory.Delete(dir, recursive: true);
        }

        Directory.CreateDirectory(dir);
        return dir;
    }

    private void Cleanup(string dir)
    {
        if (!options.KeepData)
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
