using System.Collections.Concurrent;

namespace Plexus.Broker;

/// <summary>
/// Per-client publish rate limit: a token bucket per client id (rate per second, burst). A publish over the rate
/// is either delayed (QoS 1/2: the caller waits before the message is handled, so its ack comes later and the
/// client's own in-flight window slows it down) or dropped (QoS 0, which has no ack to hold back). Only the
/// flooding client's own receive loop waits; other clients are not touched.
/// </summary>
internal sealed class ClientRateLimiter
{
    private static readonly TimeSpan LogInterval = TimeSpan.FromSeconds(10);

    private readonly double _ratePerSecond;
    private readonly double _burst;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);
    private long _dropped;
    private long _delayed;

    public ClientRateLimiter(double ratePerSecond, int burst, TimeProvider time)
    {
        _ratePerSecond = ratePerSecond;
        _burst = burst > 0 ? burst : Math.Max(1, ratePerSecond);
        _time = time;
    }

    public bool Enabled => _ratePerSecond > 0;

    public long Dropped => Interlocked.Read(ref _dropped);

    public long Delayed => Interlocked.Read(ref _delayed);

    /// <summary>
    /// Takes a token for one message. Returns <see cref="TimeSpan.Zero"/> when within the rate; otherwise how long the
    /// message must wait (<paramref name="mayWait"/>: the token is reserved) or null when it is to be dropped.
    /// <paramref name="shouldLog"/> is true at most once per <see cref="LogInterval"/> per client.
    /// </summary>
    public TimeSpan? Take(string clientId, bool mayWait, out bool shouldLog)
    {
        var bucket = _buckets.GetOrAdd(clientId, static (_, state) => new Bucket(state.Item1, state.Item2), (_burst, _time.GetTimestamp()));
        long now = _time.GetTimestamp();
        lock (bucket)
        {
            double elapsed = _time.GetElapsedTime(bucket.Updated, now).TotalSeconds;
            bucket.Updated = now;
            bucket.Tokens = Math.Min(_burst, bucket.Tokens + (elapsed * _ratePerSecond));
            shouldLog = false;
            if (bucket.Tokens >= 1)
            {
                bucket.Tokens -= 1;
                return TimeSpan.Zero;
            }

            if (bucket.LastLogged == 0 || _time.GetElapsedTime(bucket.LastLogged, now) >= LogInterval)
            {
                bucket.LastLogged = now;
                shouldLog = true;
            }

            if (!mayWait)
            {
                Interlocked.Increment(ref _dropped);
                return null;
            }

            // Reserve the token now: the next message waits behind this one.
            bucket.Tokens -= 1;
            Interlocked.Increment(ref _delayed);
            return TimeSpan.FromSeconds(-bucket.Tokens / _ratePerSecond);
        }
    }

    public void Forget(string clientId) => _buckets.TryRemove(clientId, out _);

    private sealed class Bucket(double tokens, long updated)
    {
        public double Tokens { get; set; } = tokens;

        public long Updated { get; set; } = updated;

        public long LastLogged { get; set; }
    }
}
