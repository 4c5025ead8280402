using System.Globalization;
using System.Net;
using System.Text;

namespace Plexus.LoadBench;

/// <summary>
/// The rules of a rules run: a realistic mix over the TSBS-IoT measurements, made before the load starts. The
/// measurements must exist first, so the data set's first readings and diagnostics lines are written once; the load
/// writes them again (same series and time: the store keeps one row), so the row count still matches.
/// </summary>
internal static class RuleMix
{
    public static async Task AddAsync(HttpClient client, string writePath, string ns, byte[] firstBatch, int count)
    {
        if (count == 0)
        {
            return;
        }

        var lines = Encoding.UTF8.GetString(firstBatch).Split('\n');
        string seed = lines.First(l => l.StartsWith("readings,", StringComparison.Ordinal)) + "\n" + lines.First(l => l.StartsWith("diagnostics,", StringComparison.Ordinal));
        using (var content = new StringContent(seed))
        using (var response = await client.PostAsync(writePath, content))
        {
            if (response.StatusCode != HttpStatusCode.NoContent)
            {
                throw new InvalidOperationException($"the seed lines were answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            }
        }

        for (int i = 0; i < count; i++)
        {
            string rule = (i % 4) switch
            {
                0 => $$"""{"name": "speeding-{{i}}", "from": "{{ns}}.readings", "where": "velocity > {{60 + (i % 40)}} AND fuel_consumption > 10", "for": "5m", "severity": "minor"}""",
                1 => $$"""{"name": "climb-{{i}}", "from": "{{ns}}.readings", "where": "grade > {{i % 50}} OR elevation > {{500 + i}}", "clear_when": "grade < {{(i % 50) / 2}}", "severity": "warning"}""",
                2 => $$"""{"name": "fuel-{{i}}", "from": "{{ns}}.diagnostics", "where": "fuel_state < {{((i % 9) + 1) / 10.0}} AND model IN ('F-150', 'G-2000')", "for": "10m", "severity": "major"}""",
                _ => $$"""{"name": "silent-{{i}}", "from": "{{ns}}.diagnostics", "where": "status >= 0", "absent_for": "{{10 + (i % 20)}}m", "severity": "critical"}""",
            };
            using var content = new StringContent(rule, Encoding.UTF8, "application/json");
            using var response = await client.PostAsync("/api/v1/rules", content);
            if (response.StatusCode != HttpStatusCode.Created)
            {
                string answer = await response.Content.ReadAsStringAsync();
                throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"rule {i} was answered {(int)response.StatusCode}: {answer}"));
            }
        }
    }
}
