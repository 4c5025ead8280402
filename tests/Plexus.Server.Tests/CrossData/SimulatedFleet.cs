using System.Collections.ObjectModel;
using System.Globalization;
using System.Net;
using System.Text;
using Plexus.Simulator;
using Plexus.TestKit;

namespace Plexus.Server.Tests.CrossData;

/// <summary>The eight TSBS tags: TimescaleDB's <c>tags</c> row, which the cookbook's queries group by.</summary>
internal readonly record struct TagSet(
    string? Name, string? Fleet, string? Driver, string? Model, string? DeviceVersion,
    double? LoadCapacity, double? FuelCapacity, double? NominalFuelConsumption);

/// <summary>One stored row as the server should hold it after every write: tags, then the measurement's fields.</summary>
internal sealed class StoredRow
{
    public required long Time { get; init; }

    public required TagSet Tags { get; init; }

    /// <summary>Measurement fields in TSBS order (readings: 7, diagnostics: 3, status as an exact integer).</summary>
    public required double?[] Fields { get; init; }

    public double? Latitude => Fields[0];

    public double? Longitude => Fields[1];

    public double? Velocity => Fields[3];

    public double? FuelConsumption => Fields[6];

    public double? FuelState => Fields[0];

    public double? CurrentLoad => Fields[1];

    public long? Status => Fields[2] is { } s ? (long)s : null;
}

internal sealed record PositionRow(string Device, long Time, double Lat, double Lon);

/// <summary>
/// The cookbook's fleet (16 trucks, 25 h from 2016-01-01, seed 1, TSBS chaos) written through a real server over HTTP,
/// out of order and with duplicates and overwrites, plus an independent C# model of what the server must then hold.
/// </summary>
public sealed class SimulatedFleet : IAsyncLifetime
{
    public static readonly DateTimeOffset Start = new(2016, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly long StationaryFrom = Ns(Start.AddHours(12));
    private static readonly long StationaryTo = Ns(Start.AddHours(12).AddMinutes(10));

    private readonly Dictionary<(FleetMeasurement, TagSet, long), StoredRow> _rows = [];

    public PlexusTestServer Server { get; private set; } = null!;

    internal List<StoredRow> Readings { get; private set; } = [];

    internal List<StoredRow> Diagnostics { get; private set; } = [];

    internal List<PositionRow> Positions { get; } = [];

    public long LinesWritten { get; private set; }

    public static long Ns(DateTimeOffset time) => (time - DateTimeOffset.UnixEpoch).Ticks * 100;

    public async Task InitializeAsync()
    {
        var simulator = new FleetSimulator(new FleetSimulationOptions
        {
            Trucks = 16,
            Start = Start,
            End = Start.AddHours(25),
            Seed = 1,
        });
        var formatter = FleetFormatters.Create(FleetFormat.LineProtocol, simulator.Trucks);
        var buffer = new byte[formatter.MaxRowBytes];
        var rows = new List<FleetRow>();
        var lines = new List<string>();
        while (simulator.TryRead(out var row))
        {
            int length = formatter.WriteRow(row, buffer);
            if (length > 0)
            {
                rows.Add(row);
                lines.Add(Encoding.UTF8.GetString(buffer, 0, length));
            }
        }

        Server = await PlexusTestServer.StartAsync();

        // Late data: the second half of the run arrives before the first, then part of the first half arrives again.
        int half = lines.Count / 2;
        await SendAsync(lines[half..], "fleet");
        await SendAsync(lines[..half], "fleet");
        await SendAsync(lines[..10_000], "fleet");
        for (int i = 0; i < rows.Count; i++)
        {
            Apply(rows[i], simulator.Trucks);
        }

        // Overwrites: truck_13 stands still from 12:00 to 12:10 (every tag set it wrote there), a later write carrying one field.
        var overwrites = new List<string>();
        foreach (var row in rows)
        {
            var truck = simulator.Trucks[row.TruckIndex];
            if (row.Measurement == FleetMeasurement.Readings && truck.Name == "truck_13" && row.Timestamp >= StationaryFrom && row.Timestamp < StationaryTo)
            {
                var tags = TagsOf(row, truck);
                overwrites.Add(string.Create(CultureInfo.InvariantCulture, $"{Head("readings", tags)} velocity=0 {row.Timestamp}\n"));
                _rows[(FleetMeasurement.Readings, tags, row.Timestamp)].Fields[3] = 0;
            }
        }

        Assert.True(overwrites.Count > 40, $"the overwrite window holds {overwrites.Count} rows");
        await SendAsync(overwrites, "fleet");

        // Positions: what the trucks' own devices report, once a minute, 5 s after the minute, into namespace main.
        var positionLines = new List<string>();
        foreach (var row in _rows.Values.Where(r => r.Fields.Length == 7).OrderBy(r => r.Time))
        {
            if (row.Tags.Name is { } name && row.Latitude is { } lat && row.Longitude is { } lon && row.Time % 60_000_000_000 == 0)
            {
                long time = row.Time + 5_000_000_000;
                Positions.Add(new PositionRow(name, time, lat, lon));
                positionLines.Add(string.Create(CultureInfo.InvariantCulture, $"positions,device={name} lat={lat:R},lon={lon:R} {time}\n"));
            }
        }

        await SendAsync(positionLines, "main");
        Readings = [.. _rows.Where(e => e.Key.Item1 == FleetMeasurement.Readings).Select(e => e.Value)];
        Diagnostics = [.. _rows.Where(e => e.Key.Item1 == FleetMeasurement.Diagnostics).Select(e => e.Value)];
    }

    public async Task DisposeAsync()
    {
        if (Server is not null)
        {
            await Server.DisposeAsync();
        }
    }

    private async Task SendAsync(List<string> lines, string bucket)
    {
        for (int i = 0; i < lines.Count; i += 20_000)
        {
            string body = string.Concat(lines.Skip(i).Take(20_000));
            using var response = await Server.WriteAsync(body, $"?bucket={bucket}&precision=ns");
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
            LinesWritten += Math.Min(20_000, lines.Count - i);
        }
    }

    private void Apply(in FleetRow row, ReadOnlyCollection<Truck> trucks)
    {
        var tags = TagsOf(row, trucks[row.TruckIndex]);
        var fields = new double?[row.FieldCount];
        for (int f = 0; f < fields.Length; f++)
        {
            fields[f] = row.IsFieldNull(f) ? null : row.GetValue(f);
        }

        var key = (row.Measurement, tags, row.Timestamp);
        if (_rows.TryGetValue(key, out var existing))
        {
            // A duplicate key: the later write wins for the fields it carries (InfluxDB semantics).
            for (int f = 0; f < fields.Length; f++)
            {
                existing.Fields[f] = fields[f] ?? existing.Fields[f];
            }
        }
        else
        {
            _rows[key] = new StoredRow { Time = row.Timestamp, Tags = tags, Fields = fields };
        }
    }

    private static TagSet TagsOf(in FleetRow row, Truck truck)
    {
        int nullTag = row.NullTag;
        string? S(FleetTag tag) => (int)tag == nullTag ? null : truck.StringTag(tag);
        double? N(FleetTag tag) => (int)tag == nullTag ? null : truck.NumericTag(tag);
        return new TagSet(S(FleetTag.Name), S(FleetTag.Fleet), S(FleetTag.Driver), S(FleetTag.Model), S(FleetTag.DeviceVersion),
            N(FleetTag.LoadCapacity), N(FleetTag.FuelCapacity), N(FleetTag.NominalFuelConsumption));
    }

    private static string Head(string measurement, TagSet tags)
    {
        var head = new StringBuilder(measurement);
        void Add(string key, string? value)
        {
            if (value is not null)
            {
                head.Append(',').Append(key).Append('=').Append(value);
            }
        }

        Add("name", tags.Name);
        Add("fleet", tags.Fleet);
        Add("driver", tags.Driver);
        Add("model", tags.Model);
        Add("device_version", tags.DeviceVersion);
        return head.ToString();
    }
}
