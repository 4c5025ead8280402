using System.Globalization;
using System.Text;
using System.Text.Json;
using Plexus.Core;
using Plexus.Simulator;
using Plexus.Simulator.Demo;

namespace Plexus.Cli.Client;

/// <summary>
/// <c>plexus simulate --mqtt</c>: the simulated trucks as real devices. Each truck is registered through the HTTP API
/// (type <c>truck</c>, tags <c>simulated=true</c> and its fleet), connects over MQTT with its own device token, and at
/// each tick of the clock publishes its rows as line protocol on <c>devices/&lt;truck&gt;/lp</c> and, from a readings
/// row with both coordinates, its position on <c>devices/&lt;truck&gt;/location</c> — the path, checks and live state
/// of any device. The rows are paced by the clock as with <c>--realtime</c>: devices send live.
/// </summary>
internal sealed class MqttFleetSender(PlexusApiClient client, string mqttHost, int mqttPort, int concurrency, TextWriter log)
{
    public const string TagKey = "simulated";

    private const string Context = "simulate";

    // A location message's keys, for the readings fields in schema order: latitude, longitude, elevation, velocity, heading.
    private static readonly string[] LocationKeys = ["lat", "lon", "alt", "speed", "heading"];

    private readonly Dictionary<int, string> _tokens = [];
    private readonly Dictionary<int, MqttPublisher> _connections = [];

    /// <summary>Rows published (acknowledged by the broker).</summary>
    public long Rows { get; private set; }

    /// <summary>MQTT messages the broker acknowledged.</summary>
    public long Messages { get; private set; }

    /// <summary>Publishes that failed (the truck reconnects at its next tick, as a real device would).</summary>
    public long Failed { get; private set; }

    public async Task RegisterAsync(IReadOnlyList<Truck> trucks, CancellationToken cancellationToken)
    {
        foreach (var truck in trucks)
        {
            _tokens[truck.Index] = await RegistryCalls.RegisterDeviceAsync(client, truck.Name, DeviceJson(truck), Context, cancellationToken);
        }

        await log.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"simulate: registered {trucks.Count} trucks as devices (type truck, tag {TagKey}=true); publishing over MQTT at {mqttHost}:{mqttPort}"));
    }

    /// <summary>Runs the simulation at the clock's pace, one round of publishes per tick, until its end or cancellation.</summary>
    public async Task RunAsync(FleetSimulator simulator, TimeProvider clock, Action? progress, CancellationToken cancellationToken)
    {
        var formatter = FleetFormatters.Create(FleetFormat.LineProtocol, simulator.Trucks);
        var line = new byte[formatter.MaxRowBytes];
        var pending = new SortedDictionary<int, TruckTick>();
        try
        {
            while (simulator.TryRead(out var row))
            {
                if (row.Timestamp > FleetRun.UnixNanoseconds(clock))
                {
                    await PublishTickAsync(simulator.Trucks, pending, cancellationToken);
                    progress?.Invoke();
                    long now;
                    while (row.Timestamp > (now = FleetRun.UnixNanoseconds(clock)))
                    {
                        await Task.Delay(TimeSpan.FromTicks((row.Timestamp - now + 99) / 100), clock, cancellationToken);
                    }
                }

                int length = formatter.WriteRow(row, line);
                if (length == 0)
                {
                    continue;
                }

                if (!pending.TryGetValue(row.TruckIndex, out var tick))
                {
                    pending[row.TruckIndex] = tick = new TruckTick();
                }

                tick.Lines.Append(Encoding.UTF8.GetString(line, 0, length));
                tick.Rows++;
                if (row.Measurement == FleetMeasurement.Readings && !row.IsFieldNull(0) && !row.IsFieldNull(1))
                {
                    // Several ticks pile up when the sender falls behind the clock: each keeps its own position.
                    tick.Locations.Add(LocationJson(row));
                }
            }

            await PublishTickAsync(simulator.Trucks, pending, cancellationToken);
            progress?.Invoke();
        }
        finally
        {
            foreach (var connection in _connections.Values)
            {
                await connection.DisposeAsync();
            }

            _connections.Clear();
        }
    }

    private async Task PublishTickAsync(System.Collections.ObjectModel.ReadOnlyCollection<Truck> trucks, SortedDictionary<int, TruckTick> pending, CancellationToken cancellationToken)
    {
        if (pending.Count == 0)
        {
            return;
        }

        var work = pending.ToList();
        pending.Clear();
        var connected = new Dictionary<int, MqttPublisher>();
        foreach (var (truck, _) in work)
        {
            if (_connections.TryGetValue(truck, out var connection) && connection.IsConnected)
            {
                connected[truck] = connection;
            }
        }

        var outcomes = new System.Collections.Concurrent.ConcurrentBag<(int Truck, MqttPublisher? Connection, TruckTick Tick, int Messages, string? Error)>();
        await Parallel.ForEachAsync(work, new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = cancellationToken }, async (item, token) =>
        {
            var (index, tick) = item;
            string name = trucks[index].Name;
            connected.TryGetValue(index, out var connection);
            int messages = 0;
            try
            {
                connection ??= await MqttPublisher.ConnectAsync(mqttHost, mqttPort, name, name, _tokens[index], token);
                await connection.PublishAsync($"devices/{name}/lp", tick.Lines.ToString(), token);
                messages++;
                foreach (string location in tick.Locations)
                {
                    await connection.PublishAsync($"devices/{name}/location", location, token);
                    messages++;
                }

                outcomes.Add((index, connection, tick, messages, null));
            }
            catch (MqttPublishException error)
            {
                outcomes.Add((index, connection, tick, messages, error.Message));
            }
        });

        foreach (var (index, connection, tick, messages, error) in outcomes)
        {
            Messages += messages;
            if (error is null)
            {
                Rows += tick.Rows;
                _connections[index] = connection!;
                continue;
            }

            Failed++;
            await log.WriteLineAsync($"simulate: {trucks[index].Name}: {error}");
            if (connection is not null)
            {
                await connection.DisposeAsync();
            }

            _connections.Remove(index);
        }
    }

    private static string DeviceJson(Truck truck)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, ReadableJson.Options))
        {
            json.WriteStartObject();
            json.WriteString("id", truck.Name);
            json.WriteString("type", "truck");
            json.WriteStartObject("tags");
            json.WriteString(TagKey, "true");
            json.WriteString("fleet", truck.Fleet);
            json.WriteEndObject();
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>The position of a readings row as a device's location message.</summary>
    private static string LocationJson(in FleetRow row)
    {
        var text = new StringBuilder("{");
        for (int field = 0; field < LocationKeys.Length; field++)
        {
            if (!row.IsFieldNull(field))
            {
                text.Append(CultureInfo.InvariantCulture, $"\"{LocationKeys[field]}\": {row.GetValue(field).ToString("R", CultureInfo.InvariantCulture)}, ");
            }
        }

        text.Append(CultureInfo.InvariantCulture, $"\"ts\": {row.Timestamp / 1_000_000}}}");
        return text.ToString();
    }

    private sealed class TruckTick
    {
        public StringBuilder Lines { get; } = new();

        public int Rows { get; set; }

        public List<string> Locations { get; } = [];
    }
}
