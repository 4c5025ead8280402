using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using Plexus.Rules.Anomalies;
using Plexus.TestKit;
using static Plexus.Rules.Tests.Engine.RuleTestSupport;

namespace Plexus.Rules.Tests.Engine;

/// <summary>The SQL macros over history score like the rules' <c>anomaly()</c> does live.</summary>
public sealed class AnomalySqlTests
{
    private const int Points = 20;

    [Theory]
    [InlineData("mad", AnomalyMethod.Mad)]
    [InlineData("zscore", AnomalyMethod.ZScore)]
    [InlineData("ewma", AnomalyMethod.Ewma)]
    [InlineData("seasonal", AnomalyMethod.Seasonal)]
    public async Task Sql_anomaly_scores_equal_the_rule_detector_on_the_same_history(string name, AnomalyMethod method)
    {
        await using var server = await PlexusTestServer.StartAsync();
        var random = new Random(11);
        var expected = new Dictionary<(string Device, long Time), double>();
        var lines = new StringBuilder();
        foreach (string device in new[] { "p1", "p2" })
        {
            // 120 minutes: the seasonal baseline keeps one window for hour 0 and one for hour 1.
            var seasonal = new SeasonalAnomalyWindow(Points);
            var window = method == AnomalyMethod.Seasonal ? null : new AnomalyWindow(method, Points);
            for (int i = 0; i < 120; i++)
            {
                // Noise, a level shift at 60 and a spike at 90; p2's values repeat, so MAD ties are exercised.
                double value = device == "p2" ? Math.Round(random.NextDouble() * 4) : 10 + random.NextDouble() + (i >= 60 ? 3 : 0) + (i == 90 ? 8 : 0);
                long time = T0 + (i * Minute);
                lines.Append(CultureInfo.InvariantCulture, $"telemetry,device={device} vibration={value:R} {time}\n");
                double score = window?.Score(value) ?? seasonal.Score(value, time);
                if (!double.IsNaN(score))
                {
                    expected[(device, time)] = score;
                }
            }
        }

        using (var write = await server.WriteAsync(lines.ToString().TrimEnd(), "?precision=ns"))
        {
            Assert.Equal(HttpStatusCode.NoContent, write.StatusCode);
        }

        var rows = await server.RowsAsync($"SELECT series, epoch_ns(time), score FROM anomaly_scores('telemetry', 'vibration', method := '{name}', points := {Points}) WHERE score IS NOT NULL");
        Assert.Equal(expected.Count, rows.Count);
        foreach (var row in rows)
        {
            double want = expected[(row[0].GetString()!, row[1].GetInt64())];
            Assert.True(Math.Abs(row[2].GetDouble() - want) <= 1e-9 * Math.Max(1, want), $"{row[0]} at {row[1]}: SQL {row[2]}, rule {want}");
        }

        var spikes = await server.RowsAsync($"SELECT series, epoch_ns(time) FROM anomalies('telemetry', 'vibration', method := '{name}', points := {Points}, threshold := 5) WHERE series = 'p1'");
        Assert.Contains(spikes, r => r[1].GetInt64() == T0 + (90 * Minute));
        Assert.Equal(expected.Count(e => e.Key.Device == "p1" && e.Value > 5), spikes.Count);
    }

    [Fact]
    public async Task Sql_anomaly_scores_refuse_an_unknown_method_naming_it()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using (var write = await server.WriteAsync("telemetry,device=p1 vibration=1 1"))
        {
            Assert.Equal(HttpStatusCode.NoContent, write.StatusCode);
        }

        using var response = await server.Client.PostAsJsonAsync("/api/v1/sql", new { sql = "SELECT * FROM anomaly_scores('telemetry', 'vibration', method := 'fft')" });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("method is one of 'mad', 'zscore', 'ewma'", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
