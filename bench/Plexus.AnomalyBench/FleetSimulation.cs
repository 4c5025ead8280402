namespace Plexus.AnomalyBench;

/// <summary>The kinds of anomaly injected; each scenario holds one kind, so precision is that kind's.</summary>
internal enum AnomalyKind
{
    Spike,
    LevelShift,
    Stuck,
    Drift,
}

/// <summary>
/// An injected anomaly: it starts at <see cref="Start"/>; a flag in [Start, DetectBy) detects it (a stuck sensor must be
/// flagged while stuck, not when it comes back), and every flag in [Start, End) is about it (counts as right).
/// </summary>
internal readonly record struct InjectedAnomaly(int Start, int DetectBy, int End);

/// <summary>One simulated sensor: its readings and the anomalies injected into them.</summary>
internal sealed record SimulatedSeries(double[] Values, InjectedAnomaly[] Anomalies);

/// <summary>
/// A fleet of temperature-like sensors, one reading a minute: a per-device level, a daily cycle and Gaussian noise,
/// with anomalies of one kind injected at seeded random places, apart enough that a window of history before each is
/// clean. Magnitudes are in units of the noise's standard deviation (σ).
/// </summary>
internal static class FleetSimulation
{
    public const double Noise = 0.5;
    private const int Day = 1440;

    public static SimulatedSeries[] Generate(AnomalyKind kind, int devices, int points, int window, int seed)
    {
        var fleet = new SimulatedSeries[devices];
        for (int d = 0; d < devices; d++)
        {
            // Not HashCode.Combine: it is seeded per process, and a rerun must see the same fleet.
            var random = new Random(unchecked((seed * 1_000_003) + ((int)kind * 10_007) + d));
            double level = 15 + (random.NextDouble() * 10);
            double amplitude = 1 + random.NextDouble() * 2;
            double phase = random.NextDouble() * Day;
            var values = new double[points];
            for (int i = 0; i < points; i++)
            {
                values[i] = level + (amplitude * Math.Sin(2 * Math.PI * (i + phase) / Day)) + (Noise * Gaussian(random));
            }

            fleet[d] = new SimulatedSeries(values, Inject(kind, values, window, random));
        }

        return fleet;
    }

    private static InjectedAnomaly[] Inject(AnomalyKind kind, double[] values, int window, Random random)
    {
        var anomalies = new List<InjectedAnomaly>();

        // Each anomaly gets a slot of 3 windows plus its own length, starting after a clean window.
        int length = kind switch
        {
            AnomalyKind.Spike => 1,
            AnomalyKind.LevelShift => 6 * window,
            AnomalyKind.Stuck => 2 * window,
            _ => 4 * window,
        };
        int slot = length + (3 * window);
        for (int start = window + slot; start + slot < values.Length; start += slot)
        {
            int at = start + random.Next(window);
            double sign = random.Next(2) == 0 ? -1 : 1;
            switch (kind)
            {
                case AnomalyKind.Spike:
                    values[at] += sign * Noise * (6 + (random.NextDouble() * 4));
                    anomalies.Add(new InjectedAnomaly(at, at + 1, at + 1));
                    break;
                case AnomalyKind.LevelShift:
                    {
                        // The level moves and stays for a while: detected if flagged within a window of the move,
                        // and every flag while it is off (a seasonal baseline flags it all along) is about it.
                        double shift = sign * Noise * (5 + (random.NextDouble() * 3));
                        for (int i = at; i < at + length; i++)
                        {
                            values[i] += shift;
                        }

                        anomalies.Add(new InjectedAnomaly(at, at + window, at + length));
                        anomalies.Add(new InjectedAnomaly(at + length, at + length + window, at + length + window));
                        break;
                    }

                case AnomalyKind.Stuck:
                    for (int i = at + 1; i < at + length; i++)
                    {
                        values[i] = values[at];
                    }

                    anomalies.Add(new InjectedAnomaly(at + 1, at + length, at + length + window));
                    break;
                default:
                    {
                        // A sensor drifting away by 6 σ over the span, then repaired.
                        double slope = sign * Noise * 6 / length;
                        for (int i = at; i < at + length; i++)
                        {
                            values[i] += slope * (i - at);
                        }

                        anomalies.Add(new InjectedAnomaly(at, at + length, at + length + window));
                        break;
                    }
            }
        }

        return [.. anomalies];
    }

    private static double Gaussian(Random random)
    {
        double u1 = 1.0 - random.NextDouble();
        double u2 = random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
