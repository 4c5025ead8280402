using Plexus.Simulator;

namespace Plexus.Simulator.Tests.TestSupport;

/// <summary>Small runs of the simulator for tests: the rows, or the bytes of a format.</summary>
internal static class Fleet
{
    public static readonly DateTimeOffset Start = new(2016, 1, 1, 22, 0, 0, TimeSpan.Zero);

    public static FleetSimulationOptions Options(int trucks, TimeSpan duration, FleetChaosOptions? chaos = null, ulong seed = 1) => new()
    {
        Trucks = trucks,
        Start = Start,
        End = Start + duration,
        Interval = TimeSpan.FromSeconds(10),
        Seed = seed,
        Chaos = chaos ?? FleetChaosOptions.Tsbs,
    };

    public static List<FleetRow> Rows(FleetSimulationOptions options) => Rows(new FleetSimulator(options));

    public static List<FleetRow> Rows(FleetSimulator simulator)
    {
        var rows = new List<FleetRow>();
        while (simulator.TryRead(out var row))
        {
            rows.Add(row);
        }

        return rows;
    }

    public static byte[] Bytes(FleetSimulationOptions options, FleetFormat format) => Bytes(new FleetSimulator(options), format, out _);

    public static byte[] Bytes(FleetSimulator simulator, FleetFormat format, out FleetRowWriter writerAfterRun)
    {
        var output = new MemoryStream();
        var writer = new FleetRowWriter(output, FleetFormatters.Create(format, simulator.Trucks), bufferSize: 64 * 1024);
        while (simulator.TryRead(out var row))
        {
            writer.Write(row);
        }

        writer.Flush();
        writer.Dispose();
        writerAfterRun = writer;
        return output.ToArray();
    }

    /// <summary>Position of the row in TSBS's base order: tick, then measurement, then truck.</summary>
    public static long BaseSequence(in FleetRow row, FleetSimulationOptions options)
    {
        long tick = (row.Timestamp - UnixNanoseconds(options.Start)) / (options.Interval.Ticks * 100);
        return (((tick * 2) + (int)row.Measurement) * options.Trucks) + row.TruckIndex;
    }

    public static long UnixNanoseconds(DateTimeOffset time) => (time - DateTimeOffset.UnixEpoch).Ticks * 100;
}
