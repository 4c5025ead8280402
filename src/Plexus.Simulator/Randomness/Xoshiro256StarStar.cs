using System.Diagnostics;
using System.Numerics;

namespace Plexus.Simulator;

/// <summary>
/// xoshiro256** 1.0 (Blackman and Vigna, public domain, https://prng.di.unimi.it/xoshiro256starstar.c) with the
/// few derived draws the simulator needs. Deliberately our own code and not <see cref="System.Random"/>: the
/// simulator promises byte-identical output for a seed across .NET versions and machines, and the BCL documents
/// that <see cref="System.Random"/>'s algorithm may change.
/// </summary>
/// <remarks>
/// Every derived draw uses only IEEE-754 operations that are exactly rounded on every platform (+, −, ×, ÷, √) and
/// integer arithmetic. <see cref="NextNormal"/> therefore uses <see cref="DeterministicMath.Log"/>, not
/// <see cref="Math.Log(double)"/>, whose last bit may differ between C runtimes.
/// </remarks>
internal struct Xoshiro256StarStar
{
    private const double DoubleUnit = 1.0 / (1UL << 53);

    private ulong _s0;
    private ulong _s1;
    private ulong _s2;
    private ulong _s3;

    internal Xoshiro256StarStar(ulong s0, ulong s1, ulong s2, ulong s3)
    {
        Debug.Assert((s0 | s1 | s2 | s3) != 0, "the all-zero state is a fixed point of xoshiro");
        _s0 = s0;
        _s1 = s1;
        _s2 = s2;
        _s3 = s3;
    }

    /// <summary>
    /// An independent stream for (<paramref name="seed"/>, <paramref name="stream"/>): the pair is hashed into a
    /// SplitMix64 seed whose first four outputs are the state, as the xoshiro authors recommend.
    /// </summary>
    public static Xoshiro256StarStar Create(ulong seed, ulong stream)
    {
        var mixer = new SplitMix64(SplitMix64.Mix(seed) ^ SplitMix64.Mix(stream ^ 0xD1B54A32D192ED03UL));
        ulong s0 = mixer.Next(), s1 = mixer.Next(), s2 = mixer.Next(), s3 = mixer.Next();
        if ((s0 | s1 | s2 | s3) == 0)
        {
            s0 = 1; // Unreachable in practice (SplitMix64 outputs are a bijection of distinct counters); keeps the invariant.
        }

        return new Xoshiro256StarStar(s0, s1, s2, s3);
    }

    public ulong NextUInt64()
    {
        ulong result = BitOperations.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = BitOperations.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 53 random bits, like Go's <c>rand.Float64</c>.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * DoubleUnit;

    /// <summary>Uniform in [0, <paramref name="count"/>): the high word of a 64×64 product (Lemire), bias below 2⁻⁶⁰ for small counts.</summary>
    public int NextInt(int count)
    {
        Debug.Assert(count > 0, "count must be positive");
        return (int)Math.BigMul(NextUInt64(), (ulong)count, out _);
    }

    /// <summary>Standard normal N(0, 1) by Marsaglia's polar method (the second variate is discarded).</summary>
    public double NextNormal()
    {
        double u, v, s;
        do
        {
            u = (2.0 * NextDouble()) - 1.0;
            v = (2.0 * NextDouble()) - 1.0;
            s = (u * u) + (v * v);
        }
        while (s >= 1.0 || s == 0.0);

        return u * Math.Sqrt(-2.0 * DeterministicMath.Log(s) / s);
    }
}
