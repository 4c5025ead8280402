using System.Diagnostics;

namespace Plexus.Simulator;

/// <summary>
/// A natural logarithm built from exactly rounded IEEE operations only, so that it returns the same bits on every
/// machine. <see cref="Math.Log(double)"/> calls the platform's C runtime, which is accurate but not guaranteed to
/// round the last bit the same way everywhere, and the simulator's output must not depend on the platform.
/// </summary>
internal static class DeterministicMath
{
    private const double Ln2 = 0.6931471805599453094172321;
    private const double Sqrt2 = 1.4142135623730950488016887;

    /// <summary>ln(<paramref name="x"/>) for normal positive <paramref name="x"/>; relative error around 1e-16.</summary>
    /// <remarks>
    /// x = m · 2^e with m in [√½, √2); ln m = 2·atanh(s) with s = (m−1)/(m+1), |s| ≤ 0.1716, whose odd series
    /// 2(s + s³/3 + s⁵/5 + …) has converged to double precision after the s²³ term (s² ≤ 0.0295, 0.0295¹¹ ≈ 1e-17).
    /// </remarks>
    public static double Log(double x)
    {
        Debug.Assert(double.IsNormal(x) && x > 0, "only normal positive arguments are used (the polar method's s is at least 2^-104)");
        long bits = BitConverter.DoubleToInt64Bits(x);
        int exponent = (int)((bits >> 52) & 0x7FF) - 1023;
        double m = BitConverter.Int64BitsToDouble((bits & 0x000F_FFFF_FFFF_FFFFL) | 0x3FF0_0000_0000_0000L);
        if (m > Sqrt2)
        {
            m *= 0.5;
            exponent++;
        }

        double s = (m - 1.0) / (m + 1.0);
        double s2 = s * s;
        double series = 1.0 / 23;
        for (int k = 21; k >= 3; k -= 2)
        {
            series = (series * s2) + (1.0 / k);
        }

        series = (series * s2) + 1.0;
        return (exponent * Ln2) + (2.0 * s * series);
    }
}
