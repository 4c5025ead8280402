using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Plexus.Rules.Anomalies;

namespace Plexus.Rules.Engine;

/// <summary>Where and how often the rule engine keeps its state (docs/rules.md#restarts).</summary>
public sealed record RuleStateOptions
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMinutes(1);

    /// <summary>The data folder; the state is <c>rule-state.bin</c> in it.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>How often a changed state is written while running (server clock); a stop always writes it. A crash loses at most this much.</summary>
    public TimeSpan Interval { get; init; } = DefaultInterval;

    public string Path => System.IO.Path.Combine(DataDirectory, RuleStateFile.FileName);
}

/// <summary>
/// The engine's state across restarts: every rule's per-device state (a pending <c>for</c>, the newest point's time, the
/// last arrival for absence, what <c>rate</c>, <c>changed</c>, geofence transitions, <c>count_within</c> and
/// <c>anomaly</c> remember) is written to <see cref="RuleStateFile"/> every <see cref="RuleStateOptions.Interval"/> when
/// it changed, and when the engine stops, on the engine's own task (so no lock: it is the one task that touches the
/// state). Read back once, when the engine is made, before any write can reach it.
/// </summary>
/// <remarks>
/// Open alarms are not part of it: they are the alarm store's, which is durable on its own, and a restored device
/// state is joined with its open alarm by rule and device. So whichever of the two is newer after a crash, a condition
/// that still holds repeats on the open alarm (no duplicate) and the clear condition clears it (no lost clear); what a
/// crash loses is the evaluation of the points after the last snapshot, as if they had not been evaluated.
/// </remarks>
public sealed partial class RuleEngine
{
    private readonly RuleStateOptions? _stateOptions;
    private long _lastSnapshotTicks;
    private int _stateChanged;
    private long _snapshots;
    private long _restoredKeys;

    /// <summary>State snapshots written since start.</summary>
    public long StateSnapshots => Interlocked.Read(ref _snapshots);

    /// <summary>Device (or series) states restored from the snapshot at start.</summary>
    public long RestoredKeys => Interlocked.Read(ref _restoredKeys);

    private bool SnapshotDue(long nowTicks) =>
        _stateOptions is { } options && Volatile.Read(ref _stateChanged) != 0 && nowTicks - Volatile.Read(ref _lastSnapshotTicks) >= options.Interval.Ticks;

    /// <summary>Writes every running rule's state when it changed since the last snapshot. Engine task only (or after it stopped).</summary>
    private void SaveState()
    {
        if (_stateOptions is not { } options || Interlocked.Exchange(ref _stateChanged, 0) == 0)
        {
            return;
        }

        long now = _time.GetUtcNow().UtcTicks;
        CatchUpSkipped();
        try
        {
            var running = new HashSet<CompiledRule>(_set.All, ReferenceEqualityComparer.Instance);
            var writer = RuleStateFile.Begin();
            var rules = _states.Where(entry => running.Contains(entry.Key)).ToList();
            writer.Int32(rules.Count);
            foreach (var (rule, state) in rules)
            {
                writer.Text(rule.Name);
                writer.Bytes(Fingerprint(rule));
                int section = writer.BeginSection();
                writer.Int32(rule.MemorySlots);
                writer.Int32(state.All.Count);
                foreach (var key in state.All)
                {
                    writer.Text(key.Key);
                    writer.Int64(key.PendingSinceNs);
                    writer.Int64(key.NewestNs);
                    writer.Int64(key.LastArrivalTicks);
                    key.Memory?.Save(writer);
                }

                writer.EndSection(section);
            }

            RuleStateFile.Replace(options.Path, writer, now);
            Interlocked.Increment(ref _snapshots);
        }
        catch (IOException error)
        {
            // Tried again at the next interval (and at stop): the state in memory is intact.
            Volatile.Write(ref _stateChanged, 1);
            Log.StateNotSaved(_logger, error, options.Path);
        }
        catch (UnauthorizedAccessException error)
        {
            Volatile.Write(ref _stateChanged, 1);
            Log.StateNotSaved(_logger, error, options.Path);
        }
        finally
        {
            Volatile.Write(ref _lastSnapshotTicks, now);
        }
    }

    /// <summary>
    /// Restores the state of the running rules from the last snapshot. Runs in the constructor, before the engine is an
    /// observer of anything, so no write and no tick can meet a half-restored state. A file that cannot be read as a
    /// whole is ignored (logged): the rules start afresh, as without one.
    /// </summary>
    private void RestoreState()
    {
        if (_stateOptions is not { } options)
        {
            return;
        }

        long now = _time.GetUtcNow().UtcTicks;
        _lastSnapshotTicks = now;
        try
        {
            if (RuleStateFile.Read(options.Path) is not var (reader, writtenAt))
            {
                return;
            }

            // The server was not there to see devices while it was down: that time is not silence.
            long downtime = Math.Max(0, now - writtenAt);
            var running = _set.All.ToDictionary(rule => rule.Name, StringComparer.Ordinal);
            var weights = new Dictionary<int, double[]>();
            double[] WeightsOf(int points) => weights.TryGetValue(points, out var w) ? w : weights[points] = AnomalyMethods.EwmaWeights(points);
            int rules = reader.Count(0, int.MaxValue, "the number of rules");
            long restored = 0;
            for (int r = 0; r < rules; r++)
            {
                string name = reader.Text(RuleJson.MaxNameLength, "a rule's name");
                byte[] fingerprint = reader.Bytes(64, "a rule's fingerprint", out _).ToArray();
                long length = reader.Section();
                int end = reader.Position + (int)length;
                if (!running.TryGetValue(name, out var rule) || !fingerprint.AsSpan().SequenceEqual(Fingerprint(rule)))
                {
                    // Removed, paused or changed since: a changed rule starts afresh, as it does when saved while running.
                    reader.Skip(length);
                    continue;
                }

                int slots = reader.Count(0, int.MaxValue, "a rule's memory slots");
                if (slots != rule.MemorySlots)
                {
                    reader.Skip(end - reader.Position);
                    continue;
                }

                var state = StateOf(rule);
                int keys = reader.Count(0, int.MaxValue, "a rule's number of devices");
                for (int k = 0; k < keys; k++)
                {
                    var keyBytes = reader.Bytes(64 * 1024, "a device key's length", out _);
                    var key = state.KeyOf(keyBytes, this);
                    long pending = reader.Int64(), newest = reader.Int64(), arrival = reader.Int64();
                    var memory = key?.Memory ?? (slots > 0 ? new Expressions.RuleMemory(slots) : null);
                    memory?.Load(reader, WeightsOf);
                    if (key is null)
                    {
                        continue;
                    }

                    key.PendingSinceNs = pending;
                    key.NewestNs = newest;
                    if (arrival != 0 && key.Alarm is not { IsOpen: true })
                    {
                        key.LastArrivalTicks = arrival + downtime;
                    }

                    restored++;
                }

                if (reader.Position != end)
                {
                    throw reader.Damaged(reader.Position, $"rule {name}'s section ends at byte {reader.Position}, its length says {end}");
                }
            }

            Interlocked.Exchange(ref _restoredKeys, restored);
            Log.StateRestored(_logger, restored, rules, new DateTime(writtenAt, DateTimeKind.Utc).ToString("O", CultureInfo.InvariantCulture));
        }
        catch (Exception error) when (error is InvalidDataException or IOException or UnauthorizedAccessException or OverflowException)
        {
            _states.Clear();
            _statesEpoch++;
            Log.StateNotRestored(_logger, options.Path, error.Message);
        }
    }

    /// <summary>What shapes a rule's state: a rule saved with other text starts afresh.</summary>
    private static byte[] Fingerprint(CompiledRule rule)
    {
        var definition = rule.Definition;
        string text = string.Join('\n', definition.From, definition.Where, definition.ClearWhen, definition.For.Ticks, definition.AbsentFor?.Ticks);
        return SHA256.HashData(Encoding.UTF8.GetBytes(text));
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3205, Level = LogLevel.Warning, Message = "The rules' state could not be written to {Path}; tried again at the next interval and at stop")]
        public static partial void StateNotSaved(ILogger logger, Exception error, string path);

        [LoggerMessage(EventId = 3206, Level = LogLevel.Warning, Message = "The rules' state in {Path} is not used, the rules start afresh (pending for, windows and previous values are empty; open alarms are kept): {Problem}")]
        public static partial void StateNotRestored(ILogger logger, string path, string problem);

        [LoggerMessage(EventId = 3207, Level = LogLevel.Information, Message = "Restored the state of {Keys} devices or series of {Rules} rules, as of {WrittenAt}")]
        public static partial void StateRestored(ILogger logger, long keys, int rules, string writtenAt);
    }
}
