using System.Text.Json;
using Plexus.Simulator.Demo;

namespace Plexus.Simulator.Tests.Demo;

public sealed class DemoFleetTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static List<DemoMessage> Run(ulong seed, int ticks, Action<int, DemoFleet>? afterTick = null)
    {
        var fleet = new DemoFleet(seed);
        var all = new List<DemoMessage>();
        for (int tick = 0; tick < ticks; tick++)
        {
            fleet.Tick(Start.AddSeconds(2 * tick), all);
            afterTick?.Invoke(tick, fleet);
        }

        return all;
    }

    [Fact]
    public void The_same_seed_gives_the_same_messages()
    {
        Assert.Equal(Run(7, 500), Run(7, 500));
        Assert.NotEqual(Run(7, 500), Run(8, 500));
    }

    [Fact]
    public void Every_payload_is_json_on_a_device_topic_of_a_registered_demo_device()
    {
        var ids = DemoFleet.Devices.Select(d => d.Id).ToHashSet();
        foreach (var message in Run(1, 200))
        {
            Assert.Contains(message.Device, ids);
            Assert.Contains(message.Topic, new[] { "telemetry", "location", "state" });
            Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(message.Payload).RootElement.ValueKind);
        }
    }

    [Fact]
    public void Trucks_drive_through_the_depot_yard_and_their_status_changes_there()
    {
        var messages = Run(1, 400);
        var states = messages.Where(m => m.Topic == "state" && m.Device.StartsWith("demo-truck-", StringComparison.Ordinal)).Select(m => m.Payload).ToList();
        Assert.Contains("""{"status": "at depot"}""", states);
        Assert.Contains("""{"status": "driving"}""", states);
        var positions = messages.Where(m => m.Topic == "location").Select(m => JsonDocument.Parse(m.Payload).RootElement).ToList();
        Assert.Contains(positions, p => Math.Abs(p.GetProperty("lat").GetDouble() - 51.89) < 0.008 && Math.Abs(p.GetProperty("lon").GetDouble() - 4.43) < 0.012);
        Assert.Contains(positions, p => p.GetProperty("lat").GetDouble() > 51.94);
    }

    [Fact]
    public void Within_an_hour_of_ticks_there_are_faults_and_silences()
    {
        bool silence = false;
        var messages = Run(1, 1800, (_, fleet) => silence |= DemoFleet.Devices.Any(d => fleet.IsSilent(d.Id)));

        Assert.True(silence, "no device fell silent");
        Assert.Contains(messages, m => m.Payload.Contains("\"fault\"", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Payload.Contains("overpressure", StringComparison.Ordinal));
    }
}
