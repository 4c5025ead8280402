using System.Diagnostics;
using Plexus.Rules.Engine;

namespace Plexus.Rules.Anomalies;

/// <summary>How a value is scored against the window of values before it (docs/rules.md#anomaly-detection).</summary>
public enum AnomalyMethod
{
    /// <summary>|x − mean| / population standard deviation of the window.</summary>
    ZScore,

    /// <summary>|x − m| / s with m and s the exponentially weighted mean and deviation of the window, the newest weighing most.</summary>
    Ewma,

    /// <summary>0.6745 · |x − median| / MAD (median absolute deviation) of the window: the modified z-score, robust to outliers in the window.</summary>
    Mad,

    /// <summary>The MAD score against the previous values of the same hour of day (UTC): a daily cycle is not an anomaly.</summary>
    Seasonal,
}

/// <summary>The anomaly methods by the names rules and SQL use.</summary>
public static class AnomalyMethods
{
    public const string Names = "'zscore', 'ewma', 'mad', 'seasonal'";

    public static bool TryParse(string? text, out AnomalyMethod method)
    {
        switch (text?.ToLowerInvariant())
        {
            case "zscore":
                method = AnomalyMethod.ZScore;
                return true;
            case "ewma":
                method = AnomalyMethod.Ewma;
                return true;
            case "mad":
                method = AnomalyMethod.Mad;
                return true;
            case "seasonal":
                method = AnomalyMethod.Seasonal;
                return true;
            default:
                method = default;
                return false;
        }
    }

    /// <summary>
    /// The EWMA weights by age (0 the newest value): (1 − α)^age with α = 2 / (points + 1), the usual span. One array per
    /// compiled call, shared by every device's window.
    /// </summary>
    public static double[] EwmaWeights(int points)
    {
        var weights = new double[points];
        double keep = 1 - (2.0 / (points + 1));
        double weight = 1;
        for (int age = 0; age < points; age++)
        {
            weights[age] = weight;
            weight *= keep;
        }

        return weights;
    }
}

/// <summary>
/// The last <c>points</c> values of one series and the score of a new value against them, for one anomaly method. A new
/// value is scored against the values before it (not itself), then joins the window, the oldest leaving. The score is
/// NaN until the window is full, and when the window's spread is zero (a flat series: every change would be infinitely
/// anomalous). The same definitions as the SQL macros <c>anomaly_scores</c> / <c>anomalies</c>
/// (<c>Plexus.Query.Functions.AnomalyFunctions</c>), which the tests compare.
/// </summary>
/// <remarks>
/// Allocates its arrays once; scoring allocates nothing. Cost per value: O(points) (z-score and EWMA sum the window;
/// MAD keeps a sorted copy, moved by one insertion and one removal, and walks half of it for the MAD).
/// </remarks>
public sealed class AnomalyWindow
{
    public const int DefaultPoints = 60;
    public const int MinPoints = 8;
    public const int MaxPoints = 1000;

    /// <summary>The scale that makes the MAD of normal data estimate its standard deviation (Iglewicz and Hoaglin).</summary>
    private const double MadScale = 0.6745;

    private readonly AnomalyMethod _method;
    private readonly double[] _values;
    private readonly double[]? _sorted;
    private readonly double[]? _weights;
    private int _count;
    private int _next;

    public AnomalyWindow(AnomalyMethod method, int points, double[]? ewmaWeights = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(points, MinPoints);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(points, MaxPoints);
        if (method == AnomalyMethod.Seasonal)
        {
            throw new ArgumentException("a seasonal baseline is a window per hour of day: use SeasonalAnomalyWindow", nameof(method));
        }

        _method = method;
        _values = new double[points];
        _sorted = method == AnomalyMethod.Mad ? new double[points] : null;
        _weights = method == AnomalyMethod.Ewma ? ewmaWeights ?? AnomalyMethods.EwmaWeights(points) : null;
        Debug.Assert(_weights is null || _weights.Length == points);
    }

    public int Count => _count;

    internal AnomalyMethod Method => _method;

    internal int Points => _values.Length;

    /// <summary>Scores <paramref name="value"/> against the window, then adds it. A value that is not finite is neither scored nor kept.</summary>
    public double Score(double value)
    {
        if (!double.IsFinite(value))
        {
            return double.NaN;
        }

        double score = _count == _values.Length ? Measure(value) : double.NaN;
        Add(value);
        return score;
    }

    /// <summary>The method, the size, the ring as it is and, for the MAD, its sorted copy (docs/rules.md#restarts).</summary>
    internal void Save(RuleStateWriter writer)
    {
        writer.Byte((byte)_method);
        writer.Int32(_values.Length);
        writer.Int32(_count);
        writer.Int32(_next);
        writer.Doubles(_values);
        if (_sorted is { } sorted)
        {
            writer.Doubles(sorted.AsSpan(0, _count));
        }
    }

    /// <summary>A window as <see cref="Save"/> wrote it; <paramref name="ewmaWeights"/> gives the shared weights of a size.</summary>
    internal static AnomalyWindow Load(RuleStateReader reader, Func<int, double[]> ewmaWeights)
    {
        int at = reader.Position;
        var method = (AnomalyMethod)reader.Byte();
        if (method is not (AnomalyMethod.ZScore or AnomalyMethod.Ewma or AnomalyMethod.Mad))
        {
            throw reader.Damaged(at, $"{(int)method} is not an anomaly method of one window");
        }

        int points = reader.Count(MinPoints, MaxPoints, "an anomaly window's size");
        var window = new AnomalyWindow(method, points, method == AnomalyMethod.Ewma ? ewmaWeights(points) : null);
        window._count = reader.Count(0, points, "an anomaly window's number of values");
        window._next = reader.Count(0, points - 1, "an anomaly window's next slot");
        reader.Doubles(window._values);
        if (window._sorted is { } sorted)
        {
            reader.Doubles(sorted.AsSpan(0, window._count));
            for (int i = 1; i < window._count; i++)
            {
                if (!(sorted[i - 1] <= sorted[i]))
                {
                    throw reader.Damaged(at, "a MAD window's sorted values are not in order");
                }
            }
        }

        return window;
    }

    private double Measure(double value) => _method switch
    {
        AnomalyMethod.ZScore => ZScore(value),
        AnomalyMethod.Ewma => Ewma(value),
        _ => Mad(value),
    };

    private double ZScore(double value)
    {
        var values = _values.AsSpan(0, _count);
        double sum = 0;
        foreach (double x in values)
        {
            sum += x;
        }

        double mean = sum / values.Length;
        double squares = 0;
        foreach (double x in values)
        {
            squares += (x - mean) * (x - mean);
        }

        double deviation = Math.Sqrt(squares / values.Length);
        return deviation == 0 ? double.NaN : Math.Abs(value - mean) / deviation;
    }

    private double Ewma(double value)
    {
        // Age 0 is the newest value, just before _next in the ring.
        double weightSum = 0, weighted = 0;
        for (int age = 0; age < _count; age++)
        {
            double w = _weights![age];
            weightSum += w;
            weighted += w * _values[Slot(age)];
        }

        double mean = weighted / weightSum;
        double squares = 0;
        for (int age = 0; age < _count; age++)
        {
            double d = _values[Slot(age)] - mean;
            squares += _weights![age] * d * d;
        }

        double deviation = Math.Sqrt(squares / weightSum);
        return deviation == 0 ? double.NaN : Math.Abs(value - mean) / deviation;
    }

    private int Slot(int age)
    {
        int slot = _next - 1 - age;
        return slot < 0 ? slot + _values.Length : slot;
    }

    private double Mad(double value)
    {
        var sorted = _sorted!.AsSpan(0, _count);
        double median = Median(sorted);
        double mad = MedianDeviation(sorted, median);
        return mad == 0 ? double.NaN : MadScale * Math.Abs(value - median) / mad;
    }

    private static double Median(ReadOnlySpan<double> sorted)
    {
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[(n / 2) - 1] + sorted[n / 2]) / 2;
    }

    /// <summary>
    /// The median of |x − median| over a sorted window without sorting the deviations: below the median they grow
    /// leftwards, above it rightwards, so merging the two runs from the median outwards yields them in order.
    /// </summary>
    private static double MedianDeviation(ReadOnlySpan<double> sorted, double median)
    {
        int n = sorted.Length;
        int right = LowerBound(sorted, median);
        int left = right - 1;
        int wanted = n / 2; // the rank (0-based) of the upper middle deviation
        double previous = 0, current = 0;
        for (int rank = 0; rank <= wanted; rank++)
        {
            previous = current;
            bool takeLeft = right >= n || (left >= 0 && median - sorted[left] <= sorted[right] - median);
            current = takeLeft ? median - sorted[left--] : sorted[right++] - median;
        }

        return n % 2 == 1 ? current : (previous + current) / 2;
    }

    private static int LowerBound(ReadOnlySpan<double> sorted, double value)
    {
        int low = 0, high = sorted.Length;
        while (low < high)
        {
            int mid = (low + high) >>> 1;
            if (sorted[mid] < value)
            {
                low = mid + 1;
            }
            else
            {
                high = mid;
            }
        }

        return low;
    }

    private void Add(double value)
    {
        if (_sorted is { } sorted)
        {
            if (_count == _values.Length)
            {
                // The oldest value leaves the sorted copy (any one of equal values will do).
                int at = LowerBound(sorted.AsSpan(0, _count), _values[_next]);
                Array.Copy(sorted, at + 1, sorted, at, _count - at - 1);
                _count--;
            }

            int insert = LowerBound(sorted.AsSpan(0, _count), value);
            Array.Copy(sorted, insert, sorted, insert + 1, _count - insert);
            sorted[insert] = value;
            _count++;
        }
        else if (_count < _values.Length)
        {
            _count++;
        }

        _values[_next] = value;
        _next = _next + 1 == _values.Length ? 0 : _next + 1;
    }
}

/// <summary>
/// The seasonal baseline: one MAD window per hour of day (UTC), so that a value is compared with the previous
/// <c>points</c> values of the same hour (on earlier days, or earlier in this hour). A window is made at the first value
/// of its hour; at most 24 per series. The SQL macro partitions by <c>hour(time)</c> to the same effect.
/// </summary>
public sealed class SeasonalAnomalyWindow(int points)
{
    private const long NanosecondsPerHour = 3_600_000_000_000;

    private readonly AnomalyWindow?[] _hours = new AnomalyWindow?[24];

    /// <summary>Scores <paramref name="value"/> at <paramref name="timeNs"/> (since 1970, UTC) against its hour's window, then adds it.</summary>
    public double Score(double value, long timeNs)
    {
        long hour = (timeNs / NanosecondsPerHour) % 24;
        if (hour < 0)
        {
            hour += 24;
        }

        var window = _hours[hour] ??= new AnomalyWindow(AnomalyMethod.Mad, points);
        return window.Score(value);
    }

    /// <summary>The size and the windows of the hours seen.</summary>
    internal void Save(RuleStateWriter writer)
    {
        writer.Int32(points);
        foreach (var window in _hours)
        {
            writer.Byte(window is null ? (byte)0 : (byte)1);
            window?.Save(writer);
        }
    }

    internal static SeasonalAnomalyWindow Load(RuleStateReader reader)
    {
        int points = reader.Count(AnomalyWindow.MinPoints, AnomalyWindow.MaxPoints, "a seasonal window's size");
        var seasonal = new SeasonalAnomalyWindow(points);
        for (int hour = 0; hour < 24; hour++)
        {
            if (reader.Byte() != 0)
            {
                int at = reader.Position;
                var window = AnomalyWindow.Load(reader, static _ => []);
                seasonal._hours[hour] = window.Method == AnomalyMethod.Mad && window.Points == points
                    ? window
                    : throw reader.Damaged(at, "an hour of a seasonal window is not a MAD window of its size");
            }
        }

        return seasonal;
    }
}
