namespace Plexus.Storage.Schema;

/// <summary>
/// What the writer knows of the times stored for one series, so that it can tell a point that cannot
/// already be stored (append it) from one that may be (merge it).
/// </summary>
/// <remarks>
/// Design note. Every time stored for the series is &lt;= <see cref="Max"/>. Every time stored in
/// (<see cref="CoveredAbove"/>, <see cref="Max"/>] is in <see cref="_recent"/>, a small sorted window of the
/// latest times written in this process. A point newer than <see cref="Max"/> is new; a point inside the
/// covered window is new unless the window holds its time; anything older is only "maybe stored".
/// The window is what keeps concurrent writers cheap: when two clients' batches of one series commit out of
/// order, the later-committed batch is older than <see cref="Max"/> but still inside the window, so it is
/// appended instead of going through the merge.
///
///     stored times:  ... t1 t2 | t3 t4 t5 ... tN        (tN = Max)
///                              ^ CoveredAbove = t2: every stored time above it is in the window
/// </remarks>
public sealed class SeriesTimes
{
    public const int WindowSize = 64;

    // The window is _recent[_start .. _start + _count), sorted. The array has room for two windows, so that the
    // usual case, a time newer than every other, appends at the end and the window slides without moving the
    // other 63 times (that shift was most of the writer's per-row cost for in-order device data).
    private long[]? _recent;
    private int _start;
    private int _count;

    /// <summary>A series read back from the database: nothing below or at its newest time is known in detail.</summary>
    public SeriesTimes(long storedMax)
    {
        Max = storedMax;
        CoveredAbove = storedMax;
    }

    public long Max { get; private set; }

    public long CoveredAbove { get; private set; }

    /// <summary>False when a point at <paramref name="time"/> is certainly not stored yet.</summary>
    public bool MayHold(long time)
    {
        if (time > Max)
        {
            return false;
        }

        if (time <= CoveredAbove)
        {
            return true;
        }

        return _recent is not null && _recent.AsSpan(_start, _count).BinarySearch(time) >= 0;
    }

    /// <summary>Notes that a row at <paramref name="time"/> is (or is about to be) stored.</summary>
    public void Record(long time)
    {
        if (time <= CoveredAbove)
        {
            return;
        }

        _recent ??= new long[WindowSize * 2];
        if (time > Max)
        {
            if (_count == WindowSize)
            {
                // Dropping the oldest time narrows the covered range to what the window still holds.
                CoveredAbove = _recent[_start];
                _start++;
                _count--;
            }

            MakeRoomAtEnd();
            _recent[_start + _count++] = time;
            Max = time;
            return;
        }

        var window = _recent.AsSpan(_start, _count);
        int index = window.BinarySearch(time);
        if (index >= 0)
        {
            return;
        }

        index = ~index;
        if (_count == WindowSize)
        {
            if (index == 0)
            {
                // Older than the whole window: rather than evict a newer time, stop covering this one.
                CoveredAbove = time;
                return;
            }

            CoveredAbove = window[0];
            window[1..index].CopyTo(window);
            window[index - 1] = time;
            return;
        }

        MakeRoomAtEnd();
        window = _recent.AsSpan(_start, _count + 1);
        window[index.._count].CopyTo(window[(index + 1)..]);
        window[index] = time;
        _count++;
    }

    private void MakeRoomAtEnd()
    {
        if (_start + _count == _recent!.Length)
        {
            Array.Copy(_recent, _start, _recent, 0, _count);
            _start = 0;
        }
    }
}
