using Plexus.Rules.Engine;

namespace Plexus.Rules.Expressions;

/// <summary>
/// The times of one device's counted points within a sliding window of event time, for <c>count_within</c>: a point at
/// t counts the points in (t − window, t]. Times arrive in order (the engine does not evaluate late points), so the
/// oldest leave from the front of a ring.
/// </summary>
/// <remarks>
/// The ring starts small and doubles up to its most (<c>--rules-max-count-within</c>, 4,096 by default), so a device
/// that counts a few events keeps a few longs. Past the most in one window the oldest is forgotten early: the count
/// stays at the most, which is enough for any threshold below it.
/// </remarks>
internal sealed class EventWindow(int maxCount)
{
    /// <summary>The most any <c>count_within</c> may keep, whatever the option says: bounds a restored window too.</summary>
    public const int CeilingCount = 1 << 24;

    private readonly int _maxCount = Math.Clamp(maxCount, 1, CeilingCount);
    private long[] _times = new long[Math.Min(8, Math.Clamp(maxCount, 1, CeilingCount))];
    private int _start;
    private int _count;

    /// <summary>Forgets the times at or before <paramref name="nowNs"/> − <paramref name="windowNs"/>, adds <paramref name="nowNs"/> when <paramref name="counted"/>, and returns how many remain.</summary>
    public int Count(long nowNs, long windowNs, bool counted)
    {
        long oldest = nowNs - windowNs;
        while (_count > 0 && _times[_start] <= oldest)
        {
            _start = _start + 1 == _times.Length ? 0 : _start + 1;
            _count--;
        }

        if (counted)
        {
            if (_count == _times.Length)
            {
                if (_times.Length < _maxCount)
                {
                    Grow();
                }
                else
                {
                    _start = _start + 1 == _times.Length ? 0 : _start + 1;
                    _count--;
                }
            }

            int end = _start + _count;
            _times[end >= _times.Length ? end - _times.Length : end] = nowNs;
            _count++;
        }

        return _count;
    }

    /// <summary>The times, oldest first (docs/rules.md#restarts).</summary>
    public void Save(RuleStateWriter writer)
    {
        writer.Int32(_maxCount);
        writer.Int32(_count);
        for (int i = 0; i < _count; i++)
        {
            int at = _start + i;
            writer.Int64(_times[at >= _times.Length ? at - _times.Length : at]);
        }
    }

    public static EventWindow Load(RuleStateReader reader)
    {
        int max = reader.Count(1, CeilingCount, "count_within's most times");
        int count = reader.Count(0, max, "count_within's number of times");
        var window = new EventWindow(max);
        if (count > window._times.Length)
        {
            window._times = new long[(int)Math.Min(max, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)count))];
        }

        for (int i = 0; i < count; i++)
        {
            window._times[i] = reader.Int64();
        }

        window._count = count;
        return window;
    }

    private void Grow()
    {
        var grown = new long[Math.Min(_times.Length * 2, _maxCount)];
        for (int i = 0; i < _count; i++)
        {
            int from = _start + i;
            grown[i] = _times[from >= _times.Length ? from - _times.Length : from];
        }

        _times = grown;
        _start = 0;
    }
}
