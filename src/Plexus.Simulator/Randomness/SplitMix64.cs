namespace Plexus.Simulator;

/// <summary>
/// SplitMix64 (Steele, Lea, Flood 2014; the public-domain C version by Sebastiano Vigna). Used only to turn a
/// user seed into well-mixed xoshiro states: consecutive seeds must not give correlated streams.
/// </summary>
internal struct SplitMix64
{
    private ulong _state;

    public SplitMix64(ulong seed) => _state = seed;

    public ulong Next()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        return Mix(z);
    }

    /// <summary>The SplitMix64 output function: a bijective 64-bit finaliser.</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
