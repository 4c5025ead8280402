using System.Globalization;
using System.Net;
using System.Text;

namespace Plexus.LoadBench;

/// <summary>
/// The rules of a rules run, made before the load starts: a mix shaped like a real deployment of many rules, where most
/// rules watch other measurements (device types the trucks are not) and the rest watch quiet conditions that seldom
/// hold; docs/benchmarks.md#rules lists it. The measurements must exist first, so one line of each is written once; the
/// load writes the readings and diagnostics lines again (same series and time: the store keeps one row), so the row
/// count still matches. One rule in a hundred fires often and calls the bench's webhook listener.
/// </summary>
internal static class RuleMix
{
    /// <summary>Measurements of other device types, one line each: rules on them never see a point of the load.</summary>
    private static readonly string[] OtherMeasurements =
    [
        "cold_chain,name=fridge_0 temperature=4.1,door=false,humidity=50",
        "hvac,name=ahu_0 supply_temp=18.5,return_temp=22,fan_speed=1200",
        "power,name=meter_0 voltage=230.1,current=5.2,frequency=50",
        "pumps,name=pump_0 pressure=3.2,flow=12.5,vibration=0.4",
        "doors,name=door_0 open=false,battery=3",
    ];

    private static readonly string[] Fleets = ["East", "West", "North", "South"];
    private static readonly string[] Models = ["F-150", "G-2000", "H-2"];
    private static readonly string[] Versions = ["v1.0", "v1.5", "v2.0", "v2.3"];
    private const int Depots = 10;

    /// <summary>The rules that call the webhook: one in a hundred (at least one), the rest stay quiet.</summary>
    public static bool IsWebhookRule(int index) => index % 100 == 99 || index == 0;

    public static async Task AddAsync(HttpClient client, string writePath, string ns, byte[] firstBatch, int count, Uri? webhook)
    {
        if (count == 0)
        {
            return;
        }

        var lines = Encoding.UTF8.GetString(firstBatch).Split('\n');
        string seed = lines.First(l => l.StartsWith("readings,", StringComparison.Ordinal)) + "\n" + lines.First(l => l.StartsWith("diagnostics,", StringComparison.Ordinal)) + "\n" +
            string.Join('\n', OtherMeasurements) + "\n";
        await PostAsync(client, writePath, new StringContent(seed), HttpStatusCode.NoContent, "the seed lines");

        // Depots south of the equator and west of Greenwich: the trucks (latitude 0-90, longitude 0-180) never reach them.
        for (int k = 0; k < Depots; k++)
        {
            string depot = string.Create(CultureInfo.InvariantCulture,
                $$$"""{"type": "Feature", "geometry": {"type": "Point", "coordinates": [{{{-10 - (k * 5)}}}, {{{-10 - (k * 3)}}}]}, "properties": {"name": "depot-{{{k}}}", "radius_m": 2000}}""");
            await PostAsync(client, "/api/v1/geofences", new StringContent(depot, Encoding.UTF8, "application/json"), HttpStatusCode.Created, $"geofence depot-{k}");
        }

        for (int i = 0; i < count; i++)
        {
            string rule = Rule(i, ns, webhook);
            await PostAsync(client, "/api/v1/rules", new StringContent(rule, Encoding.UTF8, "application/json"), HttpStatusCode.Created, string.Create(CultureInfo.InvariantCulture, $"rule {i}"));
        }
    }

    private static string Rule(int i, string ns, Uri? webhook)
    {
        string fleet = Fleets[i % Fleets.Length];
        if (IsWebhookRule(i))
        {
            // Fires: about every other truck of a fleet crosses 80 km/h in half an hour; the hysteresis clears it below 60.
            string actions = webhook is null ? "" : $$""", "actions": [{"type": "webhook", "url": "{{webhook}}"}]""";
            return $$"""{"name": "fast-{{i}}", "from": "{{ns}}.readings", "where": "velocity > 80 AND fleet = '{{fleet}}'", "clear_when": "velocity < 60", "severity": "info"{{actions}}}""";
        }

        string depot = "depot-" + (i % Depots).ToString(CultureInfo.InvariantCulture);
        return (i % 20) switch
        {
            // Other device types (half the rules): thresholds with for, hysteresis, counts, anomalies, absence.
            0 => $$"""{"name": "fridge-warm-{{i}}", "from": "{{ns}}.cold_chain", "where": "temperature > {{8 + (i % 5)}}", "for": "10m", "severity": "major"}""",
            1 => $$"""{"name": "fridge-door-{{i}}", "from": "{{ns}}.cold_chain", "where": "count_within('1m', door AND changed(door)) > 10", "severity": "minor"}""",
            2 => $$"""{"name": "hvac-delta-{{i}}", "from": "{{ns}}.hvac", "where": "return_temp - supply_temp > {{10 + (i % 3)}}", "clear_when": "return_temp - supply_temp < 5", "severity": "warning"}""",
            3 => $$"""{"name": "hvac-fan-{{i}}", "from": "{{ns}}.hvac", "where": "anomaly(fan_speed, 'mad', 60) > 6", "severity": "minor"}""",
            4 => $$"""{"name": "voltage-{{i}}", "from": "{{ns}}.power", "where": "voltage < 207 OR voltage > 253", "for": "1m", "severity": "major"}""",
            5 => $$"""{"name": "frequency-{{i}}", "from": "{{ns}}.power", "where": "frequency < 49.5 OR frequency > 50.5", "severity": "critical"}""",
            6 => $$"""{"name": "pressure-{{i}}", "from": "{{ns}}.pumps", "where": "pressure > {{6 + (i % 4)}}", "clear_when": "pressure < 5", "severity": "major"}""",
            7 => $$"""{"name": "pump-vibration-{{i}}", "from": "{{ns}}.pumps", "where": "anomaly(vibration, 'zscore', 60) > 5", "for": "2m", "severity": "warning"}""",
            8 => $$"""{"name": "door-open-{{i}}", "from": "{{ns}}.doors", "where": "open = true", "for": "30m", "severity": "warning"}""",
            9 => $$"""{"name": "door-silent-{{i}}", "from": "{{ns}}.doors", "absent_for": "1h", "severity": "minor"}""",

            // The trucks' readings (three in ten): quiet thresholds, hysteresis, geofences, anomalies, tag filters.
            10 => $$"""{"name": "speeding-{{i}}", "from": "{{ns}}.readings", "where": "velocity > {{95 + (i % 5)}} AND fleet = '{{fleet}}'", "for": "5m", "severity": "minor"}""",
            11 => $$"""{"name": "steep-{{i}}", "from": "{{ns}}.readings", "where": "grade > {{85 + (i % 10)}}", "clear_when": "grade < 50", "severity": "warning"}""",
            12 => $$"""{"name": "at-depot-{{i}}", "from": "{{ns}}.readings", "where": "inside_geofence(latitude, longitude, '{{depot}}')", "for": "10m", "severity": "info"}""",
            13 => $$"""{"name": "depot-arrival-{{i}}", "from": "{{ns}}.readings", "where": "enters_geofence(latitude, longitude, '{{depot}}')", "severity": "info"}""",
            14 when i % 100 == 14 => $$"""{"name": "fuel-anomaly-{{i}}", "from": "{{ns}}.readings", "where": "anomaly(fuel_consumption, 'zscore', 60) > 8", "severity": "minor"}""",
            14 => $$"""{"name": "high-road-{{i}}", "from": "{{ns}}.readings", "where": "model = '{{Models[i % Models.Length]}}' AND elevation > {{4900 + (i % 50)}}", "for": "5m", "severity": "minor"}""",
            15 => $$"""{"name": "idle-burn-{{i}}", "from": "{{ns}}.readings", "where": "device_version = '{{Versions[i % Versions.Length]}}' AND fuel_consumption > 49 AND velocity < 5", "for": "2m", "severity": "warning"}""",

            // The trucks' diagnostics (two in ten): low fuel, absence, overload, a stuck status.
            16 => $$"""{"name": "fuel-{{i}}", "from": "{{ns}}.diagnostics", "where": "fuel_state < {{((i % 9) + 1) / 10.0}} AND model IN ('F-150', 'G-2000')", "for": "10m", "severity": "major"}""",
            17 => $$"""{"name": "silent-{{i}}", "from": "{{ns}}.diagnostics", "absent_for": "{{10 + (i % 20)}}m", "severity": "critical"}""",
            18 => $$"""{"name": "overload-{{i}}", "from": "{{ns}}.diagnostics", "where": "current_load > 4950 AND fleet = '{{fleet}}'", "for": "15m", "severity": "major"}""",
            _ => $$"""{"name": "status-stuck-{{i}}", "from": "{{ns}}.diagnostics", "where": "count_within('5m', status = 5) >= 25", "severity": "minor"}""",
        };
    }

    private static async Task PostAsync(HttpClient client, string path, HttpContent content, HttpStatusCode expected, string what)
    {
        using (content)
        {
            using var response = await client.PostAsync(path, content);
            if (response.StatusCode != expected)
            {
                string answer = await response.Content.ReadAsStringAsync();
                throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"{what} was answered {(int)response.StatusCode}: {answer}"));
            }
        }
    }
}
