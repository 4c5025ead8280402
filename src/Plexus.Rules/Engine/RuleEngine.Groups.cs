using System.Buffers;
using System.Text;
using Plexus.Core;
using Plexus.Rules.Alarms;
using Plexus.Rules.Expressions;

namespace Plexus.Rules.Engine;

// The state the engine keeps per measurement's rules and device: which rules a device's points must visit (the
// prefilter and the numeric index), each rule's state per device, and the devices' registry facts.
public sealed partial class RuleEngine
{
    /// <summary>
    /// The rules of one measurement, with each device's state in every one of them (null until the rule first sees the
    /// device), so that a point costs one lookup of its device, not one per rule. Past <see cref="MaxKeysPerRule"/>
    /// devices the rest are looked up rule by rule, as each rule bounds its own.
    /// </summary>
    /// <remarks>
    /// The prefilter: a rule whose condition needs a text equality (<see cref="TextRequirement"/>) that a device's series
    /// does not meet cannot be true for its points, so it is skipped until the series changes. Which rules a device
    /// evaluates is decided at its first point, and again when a point's equality columns, the device's registry facts
    /// (a new <see cref="RuleDevice"/>) or the rule set (a new group) change. Only a rule that would do nothing is
    /// skipped: no open alarm and no pending <c>for</c> (the decision follows a point every rule has seen, which settles
    /// both), no memory (<c>rate</c>, windows must see every point) and not an absence rule. Its newest time is kept
    /// up to date lazily (<see cref="DeviceRules.SkippedUpToNs"/>), and a late point is evaluated by every rule, so
    /// which points are late is as without it.
    /// </remarks>
    private sealed class RuleGroup
    {
        private readonly Utf8Map<DeviceRules> _keys = new();
        private readonly List<DeviceRules> _all = [];
        private readonly IReadOnlyList<TextRequirement>[] _requirements;
        private readonly int[] _symbols;
        private readonly int[] _everyRule;
        private readonly NumericBound?[] _bounds;
        private readonly bool _filtered;

        public RuleGroup(CompiledRule[] rules, RuleState[] states, int epoch)
        {
            States = states;
            Epoch = epoch;
            _requirements = [.. rules.Select(r => r.IsAbsence || r.MemorySlots > 0 || r.Where is null ? [] : r.Where.Requirements)];
            _filtered = _requirements.Any(r => r.Count > 0);
            _symbols = [.. _requirements.SelectMany(r => r).Where(q => q.Symbol >= 0).Select(q => q.Symbol).Distinct()];
            _everyRule = [.. Enumerable.Range(0, rules.Length)];

            // Indexed by the same test as the prefilter: a rule that remembers (rate, windows, geofence transitions) must
            // see every point, and an absence rule notes every arrival.
            _bounds = [.. rules.Select(rule => rule.IsAbsence || rule.MemorySlots > 0 ? null : rule.Where?.Bound)];
            var bounds = _bounds.Select((bound, r) => (Rule: r, Bound: bound)).Where(b => b.Bound is not null).ToList();
            Index = [.. bounds.GroupBy(b => b.Bound!.Symbol).Select(field => new FieldIndex(
                field.Key,
                [.. field.Where(b => b.Bound!.Above).Select(b => new IndexedBound(b.Bound!.Threshold, b.Bound.Inclusive, b.Rule)).OrderBy(b => b.Threshold)],
                [.. field.Where(b => !b.Bound!.Above).Select(b => new IndexedBound(b.Bound!.Threshold, b.Bound.Inclusive, b.Rule)).OrderByDescending(b => b.Threshold)]))];
        }

        public RuleState[] States { get; }

        /// <summary>The indexed rules by the column their bound reads.</summary>
        public FieldIndex[] Index { get; }

        public int Epoch { get; }

        public DeviceRules? EntryOf(ReadOnlySpan<byte> key)
        {
            if (_keys.TryGetValue(key, out var entry))
            {
                return entry;
            }

            if (_keys.Count >= MaxKeysPerRule)
            {
                return null;
            }

            entry = new DeviceRules(States.Length, _symbols.Length);
            for (int r = 0; r < States.Length; r++)
            {
                // States made before this group (restored, an open alarm's, or the same rule's in the previous rule set).
                entry.States[r] = States[r].Find(key);
            }

            _keys.Set(key, entry);
            _all.Add(entry);
            return entry;
        }

        /// <summary>Whether rule <paramref name="r"/> cannot be true at the bound point by its text equalities.</summary>
        public bool CannotHold(int r, RuleRow row)
        {
            var requirements = _requirements[r];
            for (int q = 0; q < requirements.Count; q++)
            {
                if (!requirements[q].IsMet(row))
                {
                    return true;
                }
            }

            return false;
        }

        /// <summary>Whether rule <paramref name="r"/> has a numeric bound that the bound point does not meet (so its condition is not true).</summary>
        public bool FailsBound(int r, RuleRow row) =>
            _bounds[r] is { } bound && !(row.Column(bound.Symbol) is { Kind: RuleValueKind.Number } value && bound.IsMetBy(value.Number));

        /// <summary>
        /// Makes the device's state in rule <paramref name="r"/>, which it had none in: as if the rule had seen every
        /// earlier point of the device, as it would have without the prefilter (so which points are late is the same).
        /// </summary>
        public KeyState? NewState(DeviceRules entry, int r, ReadOnlySpan<byte> key, RuleEngine engine)
        {
            var state = States[r].KeyOf(key, engine, entry.Name(key));
            if (state is not null && state.NewestNs < entry.SeenNs)
            {
                state.NewestNs = entry.SeenNs;
            }

            entry.States[r] = state;
            return state;
        }

        /// <summary>Whether the bound point reads as the point the rules were sorted at: the same device facts and equality columns.</summary>
        public bool SameSeries(DeviceRules entry, RuleRow row)
        {
            if (!_filtered)
            {
                return true;
            }

            if (!ReferenceEquals(entry.SeenDevice, row.Device))
            {
                return false;
            }

            int offset = 0;
            for (int s = 0; s < _symbols.Length; s++)
            {
                var value = row.Column(_symbols[s]);
                int length = entry.SeenLengths[s];
                if (value.Kind != RuleValueKind.Text)
                {
                    if (length >= 0)
                    {
                        return false;
                    }

                    continue;
                }

                if (length < 0 || !row.TextOf(value).SequenceEqual(entry.SeenValues.AsSpan(offset, length)))
                {
                    return false;
                }

                offset += length;
            }

            return true;
        }

        /// <summary>
        /// Decides which rules the device evaluates while its series reads as the bound point, which every rule has just
        /// seen: skipped (prefilter), indexed (idle or active), or every point (<see cref="DeviceRules.Candidates"/>).
        /// </summary>
        public void Sort(DeviceRules entry, RuleRow row, bool index)
        {
            var candidates = new List<int>(States.Length);
            bool skipping = false, indexing = false;
            entry.ActiveCount = 0;
            for (int r = 0; r < States.Length; r++)
            {
                var keyState = entry.States[r];
                bool idle = IsIdle(keyState);
                if (_filtered && idle && CannotHold(r, row))
                {
                    entry.Modes[r] = DeviceRules.ModeSkipped;
                    skipping = true;
                }
                else if (index && _bounds[r] is not null)
                {
                    indexing = true;
                    entry.Modes[r] = idle ? DeviceRules.ModeIdle : DeviceRules.ModeActive;
                    if (!idle)
                    {
                        entry.Active[entry.ActiveCount++] = r;
                    }
                }
                else
                {
                    entry.Modes[r] = DeviceRules.ModeAlways;
                    candidates.Add(r);
                }
            }

            entry.Candidates = candidates.Count == States.Length ? _everyRule : [.. candidates];
            entry.Indexing = indexing;
            entry.Skipping = skipping || indexing;
            if (!_filtered)
            {
                return;
            }

            entry.SeenDevice = row.Device;
            var values = new ArrayBufferWriter<byte>();
            for (int s = 0; s < _symbols.Length; s++)
            {
                var value = row.Column(_symbols[s]);
                if (value.Kind == RuleValueKind.Text)
                {
                    var text = row.TextOf(value);
                    values.Write(text);
                    entry.SeenLengths[s] = text.Length;
                }
                else
                {
                    entry.SeenLengths[s] = -1;
                }
            }

            entry.SeenValues = values.WrittenSpan.ToArray();
        }

        public void CatchUpSkipped()
        {
            foreach (var entry in _all)
            {
                entry.CatchUpSkipped();
            }
        }
    }

    /// <summary>One indexed column of a group: its rules' bounds, '&gt;' by threshold ascending, '&lt;' descending.</summary>
    private sealed record FieldIndex(int Symbol, IndexedBound[] Above, IndexedBound[] Below);

    private readonly record struct IndexedBound(double Threshold, bool Inclusive, int Rule);

    /// <summary>A device's (or series') state in every rule of a measurement, and which of them its points are evaluated by.</summary>
    private sealed class DeviceRules(int rules, int symbols)
    {
        /// <summary>What <see cref="Modes"/> holds for a rule: how the device's in-order points reach it.</summary>
        public const byte ModeSkipped = 0, ModeAlways = 1, ModeIdle = 2, ModeActive = 3;

        public readonly KeyState?[] States = new KeyState?[rules];

        /// <summary>The rules every point of it is evaluated by (indexes into the group); null until its first point.</summary>
        public int[]? Candidates;

        /// <summary>
        /// Per rule: skipped by the prefilter, evaluated at every point, or indexed; an indexed rule is idle (evaluated
        /// when the point meets its bound) or active (pending or with an open alarm: evaluated at every point, listed in
        /// <see cref="Active"/>).
        /// </summary>
        public readonly byte[] Modes = new byte[rules];

        public readonly int[] Active = new int[rules];
        public int ActiveCount;

        /// <summary>Whether some rule is indexed for it.</summary>
        public bool Indexing;

        /// <summary>Whether an in-order point may pass some rule over (prefilter or index), so <see cref="SkippedUpToNs"/> must follow it.</summary>
        public bool Skipping;

        /// <summary>Not older than the newest point any rule of the group saw from it: a point at least this new is late for none.</summary>
        public long NewestNs = long.MinValue;

        /// <summary>The newest in-order point, which every rule saw or was passed over at; they saw it, as far as lateness goes.</summary>
        public long SkippedUpToNs = long.MinValue;

        /// <summary>The newest of its points since the entry was made: the newest time of every rule it has no state in.</summary>
        public long SeenNs = long.MinValue;

        public RuleDevice? SeenDevice;
        public byte[] SeenValues = [];
        private string? _name;
        public readonly int[] SeenLengths = new int[symbols];

        /// <summary>The key as text, made once and shared by its state in every rule rather than once per rule.</summary>
        public string Name(ReadOnlySpan<byte> key) => _name ??= Encoding.UTF8.GetString(key);

        public void CatchUpSkipped()
        {
            if (SkippedUpToNs == long.MinValue)
            {
                return;
            }

            // Every rule evaluated at that point is at least that new already; the others are brought up to it.
            foreach (var keyState in States)
            {
                if (keyState is not null && keyState.NewestNs < SkippedUpToNs)
                {
                    keyState.NewestNs = SkippedUpToNs;
                }
            }

            SkippedUpToNs = long.MinValue;
        }
    }

    private sealed class DeviceEntry(RuleDevice device)
    {
        public RuleDevice Device = device;
        public int CheckedIn;
    }

    /// <summary>A rule's state: one <see cref="KeyState"/> per device or series it has seen.</summary>
    private sealed class RuleState(CompiledRule rule)
    {
        private readonly Utf8Map<KeyState> _keys = new();

        public List<KeyState> All { get; } = [];

        public KeyState? Find(ReadOnlySpan<byte> key) => _keys.Count > 0 && _keys.TryGetValue(key, out var state) ? state : null;

        public KeyState? KeyOf(ReadOnlySpan<byte> key, RuleEngine engine, string? name = null)
        {
            if (_keys.TryGetValue(key, out var state))
            {
                return state;
            }

            // Each device may fill its windows: past the rule's bound a new device is refused rather than memory run out.
            if (_keys.Count >= MaxKeysPerRule || (rule.WindowBytes > 0 && (_keys.Count + 1L) * rule.WindowBytes > engine._registry.Limits.StateBytesPerRule))
            {
                engine.Untracked(rule, _keys.Count);
                return null;
            }

            name ??= Encoding.UTF8.GetString(key);
            state = new KeyState(rule, name) { Alarm = engine._alarms.FindOpen(rule.Name, name) };
            _keys.Set(key, state);
            All.Add(state);
            return state;
        }
    }

    private sealed class KeyState(CompiledRule rule, string key)
    {
        public readonly CompiledRule Rule = rule;
        public readonly string Key = key;
        public readonly RuleMemory? Memory = rule.MemorySlots > 0 ? new RuleMemory(rule.MemorySlots) : null;
        public long PendingSinceNs = NoPending;
        public long NewestNs = long.MinValue;
        public long LastArrivalTicks;
        public Alarm? Alarm;
        public long Repeats;
        public int LastIndex;
        public bool Dirty;
        public RuleDevice? Device;
    }
}
