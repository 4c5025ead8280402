using System.Globalization;

namespace Plexus.Simulator.Demo;

/// <summary>A registry entry of the demo: an asset (site, fleet) or a device hanging from one.</summary>
public sealed record DemoEntry(string Id, string Name, string Type, string? Parent);

/// <summary>A named area of the demo, as the GeoJSON Feature the geofences API takes.</summary>
public sealed record DemoGeofence(string Name, string Feature);

/// <summary>One MQTT message of a demo device: <c>devices/&lt;device&gt;/&lt;topic&gt;</c> and its JSON payload.</summary>
public readonly record struct DemoMessage(string Device, string Topic, string Payload)
{
    public string FullTopic => "devices/" + Device + "/" + Topic;
}

/// <summary>
/// A small fleet that gives a new server something true to show: four trucks driving a loop through a depot (telemetry,
/// positions, and a status that changes at the depot), a cold-chain warehouse with three freezers (temperature, door,
/// now and then a compressor fault that warms one up) and a pumping station with three pumps (pressure, flow, running
/// or stopped, now and then an over-pressure alarm). Now and then a device falls silent for a while, as real ones do.
/// </summary>
/// <remarks>
/// Pure and deterministic for a seed: <see cref="Tick"/> says what each device sends at a moment, and which devices are
/// silent; whoever runs the demo sends it (over MQTT, as the devices would). Everything the demo registers is tagged
/// <c>demo=true</c>, so that it can be found and removed, and lives in namespace <c>main</c>, where device data goes.
/// </remarks>
public sealed class DemoFleet
{
    public const string TagKey = "demo";
    public const string TagValue = "true";

    // The depot (Rotterdam's Waalhaven), the warehouse and the pumping station, close enough to show on one map.
    private const double DepotLat = 51.8900;
    private const double DepotLon = 4.4300;
    private const double RouteRadiusDegrees = 0.03;
    private const double WarehouseLat = 51.9050;
    private const double WarehouseLon = 4.4700;
    private const double StationLat = 51.8750;
    private const double StationLon = 4.4050;

    private const int Trucks = 4;
    private const int Freezers = 3;
    private const int Pumps = 3;

    private readonly DeviceState[] _devices;
    private Xoshiro256StarStar _random;
    private long _ticks;

    public DemoFleet(ulong seed = 1)
    {
        _random = Xoshiro256StarStar.Create(seed, stream: 0xDE30);
        _devices = [.. Devices.Select((device, i) => new DeviceState(device.Id, device.Type, i))];
    }

    public static IReadOnlyList<DemoEntry> Assets { get; } =
    [
        new("demo-rotterdam", "Rotterdam (demo)", "region", null),
        new("demo-depot", "Waalhaven depot", "site", "demo-rotterdam"),
        new("demo-trucks", "Truck fleet", "fleet", "demo-depot"),
        new("demo-coldstore", "Cold-chain warehouse", "site", "demo-rotterdam"),
        new("demo-pumpstation", "Pumping station", "site", "demo-rotterdam"),
    ];

    public static IReadOnlyList<DemoEntry> Devices { get; } =
    [
        .. Enumerable.Range(1, Trucks).Select(i => new DemoEntry($"demo-truck-{i}", $"Truck {i}", "truck", "demo-trucks")),
        .. Enumerable.Range(1, Freezers).Select(i => new DemoEntry($"demo-freezer-{i}", $"Freezer {i}", "freezer", "demo-coldstore")),
        .. Enumerable.Range(1, Pumps).Select(i => new DemoEntry($"demo-pump-{i}", $"Pump {i}", "pump", "demo-pumpstation")),
    ];

    /// <summary>The depot's yard (a polygon the trucks' loop passes through) and a circle round the warehouse.</summary>
    public static IReadOnlyList<DemoGeofence> Geofences { get; } =
    [
        new("demo-depot-yard", Invariant($$$"""{"type": "Feature", "properties": {"name": "demo-depot-yard", "demo": "true"}, "geometry": {"type": "Polygon", "coordinates": [[[{{{DepotLon - 0.012}}}, {{{DepotLat - 0.008}}}], [{{{DepotLon + 0.012}}}, {{{DepotLat - 0.008}}}], [{{{DepotLon + 0.012}}}, {{{DepotLat + 0.008}}}], [{{{DepotLon - 0.012}}}, {{{DepotLat + 0.008}}}], [{{{DepotLon - 0.012}}}, {{{DepotLat - 0.008}}}]]]}}""")),
        new("demo-coldstore", Invariant($$$"""{"type": "Feature", "properties": {"name": "demo-coldstore", "demo": "true", "radius_m": 300}, "geometry": {"type": "Point", "coordinates": [{{{WarehouseLon}}}, {{{WarehouseLat}}}]}}""")),
    ];

    /// <summary>Devices that send nothing at the moment (the runner disconnects them: they show as offline).</summary>
    public bool IsSilent(string deviceId) => _devices.First(d => d.Id == deviceId).SilentTicks > 0;

    /// <summary>
    /// What the fleet sends at <paramref name="now"/>, one tick later than the last call: every device that is not
    /// silent reports its telemetry, trucks their position, and any device whose status changed its new state.
    /// </summary>
    public void Tick(DateTimeOffset now, List<DemoMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        long ts = now.ToUnixTimeMilliseconds();
        foreach (var device in _devices)
        {
            if (device.SilentTicks > 0)
            {
                device.SilentTicks--;
                continue;
            }

            // About one device in 150 per tick goes quiet for 20 to 60 ticks (with the runner's 2 s tick: ~1-2 minutes).
            if (_ticks > 10 && _random.NextInt(150) == 0)
            {
                device.SilentTicks = 20 + _random.NextInt(41);
                continue;
            }

            switch (device.Type)
            {
                case "truck":
                    TruckTick(device, ts, messages);
                    break;
                case "freezer":
                    FreezerTick(device, ts, messages);
                    break;
                default:
                    PumpTick(device, ts, messages);
                    break;
            }
        }

        _ticks++;
    }

    private void TruckTick(DeviceState truck, long ts, List<DemoMessage> messages)
    {
        // Each truck drives the same loop north of the depot, a quarter of it apart, one degree of arc per tick; the
        // loop's southern end runs through the depot's yard.
        double angle = (_ticks + truck.Index * 90) % 360 * Math.PI / 180;
        double lat = DepotLat + RouteRadiusDegrees + (RouteRadiusDegrees * Math.Sin(angle));
        double lon = DepotLon + (RouteRadiusDegrees * 1.6 * Math.Cos(angle));
        double heading = ((Math.Atan2(-1.6 * Math.Sin(angle), Math.Cos(angle)) * 180 / Math.PI) + 360) % 360;
        bool atDepot = Math.Abs(lat - DepotLat) < 0.008 && Math.Abs(lon - DepotLon) < 0.012;
        double speed = atDepot ? 3 + _random.NextDouble() : 14 + 4 * _random.NextDouble();
        truck.Fuel = truck.Fuel <= 8 ? 95 : truck.Fuel - 0.05;
        if (atDepot && truck.Fuel < 60)
        {
            truck.Fuel = 95;
        }

        messages.Add(new(truck.Id, "location", Invariant($$"""{"lat": {{Round(lat, 6)}}, "lon": {{Round(lon, 6)}}, "speed": {{Round(speed, 1)}}, "heading": {{Round(heading, 0)}}, "ts": {{ts}}}""")));
        messages.Add(new(truck.Id, "telemetry", Invariant($$"""{"speed_kmh": {{Round(speed * 3.6, 1)}}, "fuel_pct": {{Round(truck.Fuel, 1)}}, "engine_temp_c": {{Round(82 + 6 * _random.NextDouble(), 1)}}, "ts": {{ts}}}""")));
        SetStatus(truck, atDepot ? """{"status": "at depot"}""" : """{"status": "driving"}""", messages);
    }

    private void FreezerTick(DeviceState freezer, long ts, List<DemoMessage> messages)
    {
        // A compressor fault now and then: the freezer warms by about 0.4 °C a tick until it is fixed.
        if (freezer.FaultTicks == 0 && _random.NextInt(400) == 0)
        {
            freezer.FaultTicks = 30 + _random.NextInt(30);
        }

        bool door = _random.NextInt(40) == 0;
        double target = -20 + freezer.Index % 2;
        freezer.Temperature = freezer.FaultTicks > 0
            ? freezer.Temperature + 0.4
            : freezer.Temperature + ((target - freezer.Temperature) * 0.3) + (door ? 1.5 : 0) + (0.2 * (_random.NextDouble() - 0.5));
        messages.Add(new(freezer.Id, "telemetry", Invariant($$"""{"temperature_c": {{Round(freezer.Temperature, 2)}}, "door_open": {{(door ? "true" : "false")}}, "ts": {{ts}}}""")));
        SetStatus(freezer, freezer.FaultTicks > 0 ? """{"compressor": "fault"}""" : """{"compressor": "ok"}""", messages);
        if (freezer.FaultTicks > 0)
        {
            freezer.FaultTicks--;
        }
    }

    private void PumpTick(DeviceState pump, long ts, List<DemoMessage> messages)
    {
        // Pumps run in shifts (each one stops for a while every 90 ticks) and sometimes see a pressure spike.
        bool running = (_ticks + (pump.Index * 30)) % 90 < 70;
        if (pump.FaultTicks == 0 && running && _random.NextInt(300) == 0)
        {
            pump.FaultTicks = 5 + _random.NextInt(10);
        }

        double pressure = running ? 4.2 + (0.3 * _random.NextDouble()) + (pump.FaultTicks > 0 ? 3.5 : 0) : 0.1 * _random.NextDouble();
        double flow = running ? 118 + (8 * _random.NextDouble()) : 0;
        messages.Add(new(pump.Id, "telemetry", Invariant($$"""{"pressure_bar": {{Round(pressure, 2)}}, "flow_m3h": {{Round(flow, 1)}}, "rpm": {{(running ? 1450 + _random.NextInt(20) : 0)}}, "ts": {{ts}}}""")));
        string state = pump.FaultTicks > 0 ? """{"mode": "running", "alarm": "overpressure"}"""
            : running ? """{"mode": "running", "alarm": "none"}""" : """{"mode": "stopped", "alarm": "none"}""";
        SetStatus(pump, state, messages);
        if (pump.FaultTicks > 0)
        {
            pump.FaultTicks--;
        }
    }

    /// <summary>Reports state only when it changed (and once at first), as a device that reports on change does.</summary>
    private static void SetStatus(DeviceState device, string state, List<DemoMessage> messages)
    {
        if (state != device.LastState)
        {
            device.LastState = state;
            messages.Add(new(device.Id, "state", state));
        }
    }

    private static double Round(double value, int digits) => Math.Round(value, digits, MidpointRounding.AwayFromZero);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private sealed class DeviceState(string id, string type, int index)
    {
        public string Id { get; } = id;

        public string Type { get; } = type;

        public int Index { get; } = index;

        public int SilentTicks { get; set; }

        public int FaultTicks { get; set; }

        public double Temperature { get; set; } = -19.5;

        public double Fuel { get; set; } = 70 + (index * 7);

        public string? LastState { get; set; }
    }
}
