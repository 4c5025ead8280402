// The engine's queue task, its evaluation and alarm transitions, which share state only that task touches. The
// per-device state of a measurement's rules is in RuleEngine.Groups.cs, its persistence in RuleEngine.State.cs. Hot path, measured.
using System.Buffers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Plexus.Core;
using Plexus.Devices;
using Plexus.Geo;
using Plexus.Pipeline.Observers;
using Plexus.Rules.Alarms;
using Plexus.Rules.Expressions;
using Plexus.Storage.Writing;

namespace Plexus.Rules.Engine;

/// <summary>
/// Evaluates the rules on stored data, as an observer of the ingest pipeline (docs/rules.md#how-rules-run).
/// </summary>
/// <remarks>
/// <para>On the store's writer thread (<see cref="Extract"/>) it only copies the stored points whose measurement some
/// rule watches into a pooled batch and queues it: with no rules that is one check per write, with rules one hash
/// lookup per point. Everything else runs on the queue's own task, so a slow engine never delays an acknowledgement:
/// past <c>--rules-queue</c> waiting writes, a write's points are not evaluated (the data is stored; the drop is
/// counted and logged).</para>
/// <para>Per rule, state is kept per device (the point's device tag), or per series for points without one:
/// <code>
///   no alarm ──where true──▶ pending since t₀ ──where true at t ≥ t₀ + for──▶ alarm open (Raise)
///      ▲                          │ where not true                                 │ where true: a repeat (count, last value)
///      └──────────────────────────┘                                                │ clear_when true (default: where false)
///      └───────────────────────────────────────────────────────────────────────────┘ (Clear)
/// </code>
/// Time is the points' own (event time). A point older than the newest one the rule has seen from its device is late: it
/// changes nothing. An absence rule opens its alarm when the server clock (the injected <see cref="TimeProvider"/>)
/// passes a device's last point by <c>absent_for</c>, and clears it at the next point.</para>
/// </remarks>
public sealed partial class RuleEngine : QueuedObserver<RuleWork>, IAsyncDisposable
{
    /// <summary>Devices (or series) one rule keeps state for; more are not evaluated by it (counted).</summary>
    public const int MaxKeysPerRule = 100_000;

    /// <summary>
    /// Points that may wait for evaluation, besides <c>--rules-queue</c> writes: one bulk write holds many points, and
    /// each waiting point is a copy in memory. Past it a write's points are not evaluated (counted in <see cref="RuleEngineStatistics.DroppedPoints"/>).
    /// </summary>
    public const int MaxWaitingPoints = 250_000;

    private const int MaxCachedDevices = 65_536;
    private const long NoPending = long.MinValue;

    private readonly RuleRegistry _registry;
    private readonly AlarmStore _alarms;
    private readonly DeviceRegistry? _devices;
    private readonly IRuleStateSource? _facts;
    private readonly Func<string, string> _deviceTagFor;
    private readonly Func<string, GeoShape?>? _geofences;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly PointBatchPool _pool = new(pointCapacity: 256, maxBatches: 64);
    private readonly RuleSymbols _symbols = new();
    private readonly Lock _rebuild = new();
    private readonly Dictionary<string, CompiledRule> _compiled = new(StringComparer.Ordinal);
    private readonly ITimer _ticker;
    private volatile RuleSet _set = RuleSet.Empty;
    private int _tickQueued;

    // Writer thread only.
    private byte[] _writerScratch = new byte[64];

    // Worker only.
    private readonly RuleRow _row;
    private readonly Dictionary<CompiledRule, RuleState> _states = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<CompiledRule[], RuleGroup> _groups = new(ReferenceEqualityComparer.Instance);
    private RuleSet? _groupsOf;

    // Moves on whenever _states is emptied, so that no group keeps the key states of a state that was dropped.
    private int _statesEpoch;
    private readonly Dictionary<string, byte[]> _deviceTags = new(StringComparer.Ordinal);
    private readonly Utf8Map<DeviceEntry> _deviceCache = new();
    private readonly List<KeyState> _dirty = [];
    private readonly ArrayBufferWriter<byte> _json = new(256);
    private byte[] _workerScratch = new byte[64];
    private byte[] _seriesKey = new byte[256];
    private int _generation;
    private long _points;
    private long _late;
    private long _untracked;
    private long _clockChecks;
    private long _waitingPoints;
    private long _droppedPoints;
    private long _droppedWrites;
    private volatile bool _indexRules = true;

    public RuleEngine(RuleRegistry registry, AlarmStore alarms, DeviceRegistry? devices, IRuleStateSource? facts, Func<string, string>? deviceTagFor = null, Func<string, GeoShape?>? geofences = null, TimeProvider? time = null, int capacity = 1024, ILogger? logger = null, RuleStateOptions? state = null)
        : base("rules", Math.Max(2, capacity), logger)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(alarms);
        _registry = registry;
        _alarms = alarms;
        _devices = devices;
        _facts = facts;
        _deviceTagFor = deviceTagFor ?? (_ => DeviceTagMap.DefaultTag);
        _geofences = geofences;
        _time = time ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
        _row = new RuleRow(_symbols);
        _stateOptions = state;
        registry.Changed += Rebuild;
        Rebuild();
        RestoreState();
        _ticker = _time.CreateTimer(_ => QueueTick(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    /// <summary>Whether rules with a numeric bound are indexed (see <see cref="VisitIndexed"/>); off only to compare outcomes in tests. Read when a device's rules are sorted.</summary>
    internal bool IndexRules
    {
        get => _indexRules;
        set => _indexRules = value;
    }

    public RuleEngineStatistics Statistics => new(_set.All.Length, Interlocked.Read(ref _points), Interlocked.Read(ref _late), Dropped + Interlocked.Read(ref _droppedWrites), Waiting, Interlocked.Read(ref _untracked), Interlocked.Read(ref _clockChecks), Interlocked.Read(ref _droppedPoints));

    /// <summary>Recompiles the rules that are not paused (a rule whose definition did not change keeps its compiled form and state).</summary>
    public void Rebuild()
    {
        lock (_rebuild)
        {
            var rules = new List<CompiledRule>();
            var kept = new HashSet<string>(StringComparer.Ordinal);
            foreach (var stored in _registry.List())
            {
                if (stored.Paused)
                {
                    continue;
                }

                kept.Add(stored.Name);
                if (!_compiled.TryGetValue(stored.Name, out var compiled) || !ReferenceEquals(compiled.Definition, stored.Definition))
                {
                    try
                    {
                        compiled = CompiledRule.Compile(stored.Definition, new RuleCompileOptions { Symbols = _symbols, Geofences = _geofences, Limits = _registry.Limits });
                    }
                    catch (RegistryException error)
                    {
                        // A geofence it names was removed since: the rule waits until it compiles again.
                        Log.NotCompiled(_logger, stored.Name, error.Message);
                        _compiled.Remove(stored.Name);
                        continue;
                    }

                    _compiled[stored.Name] = compiled;
                }

                rules.Add(compiled);
            }

            foreach (string name in _compiled.Keys.Where(n => !kept.Contains(n)).ToList())
            {
                _compiled.Remove(name);
            }

            _set = RuleSet.Of(rules);
        }
    }

    protected override void Extract(in CommittedWrite write)
    {
        // The cost with no rules: this check, once per write. Points derived by rule actions are not evaluated, so that
        // no rule can re-trigger itself or another through the points it writes (docs/rules.md#derived-points).
        var set = _set;
        if (set.IsEmpty || write.Origin.Source == IngestSource.Rules || set.Namespace(write.Namespace) is not { } measurements)
        {
            return;
        }

        PointBatch? copy = null;
        var batch = write.Batch;
        for (int i = 0; i < batch.Count; i++)
        {
            if (!write.IsStored(i) || RuleSet.Lookup(measurements, batch.Text(batch[i].Measurement), ref _writerScratch) is null)
            {
                continue;
            }

            copy ??= _pool.Rent();
            copy.AppendPoint(batch, i);
        }

        if (copy is null)
        {
            return;
        }

        // Only this thread queues writes and at most one tick waits besides, so with a slot to spare the write is queued.
        if (Interlocked.Read(ref _waitingPoints) + copy.Count > MaxWaitingPoints || Waiting >= Capacity - 1)
        {
            Interlocked.Increment(ref _droppedWrites);
            long dropped = Interlocked.Add(ref _droppedPoints, copy.Count);
            if (dropped == copy.Count)
            {
                Log.TooManyWaiting(_logger, MaxWaitingPoints);
            }

            _pool.Return(copy);
            return;
        }

        Interlocked.Add(ref _waitingPoints, copy.Count);
        Enqueue(new RuleWork(write.Namespace, copy, set));
    }

    protected override async ValueTask ProcessAsync(RuleWork item)
    {
        if (ReferenceEquals(item, RuleWork.Tick))
        {
            Volatile.Write(ref _tickQueued, 0);
            if (_set.Absence.Length > 0)
            {
                using (_alarms.BeginBatch())
                {
                    CheckAbsence(_set);
                }

                Interlocked.Increment(ref _clockChecks);
            }

            if (SnapshotDue(_time.GetUtcNow().UtcTicks))
            {
                SaveState();
            }

            return;
        }

        try
        {
            // One transaction for every alarm this write raises, repeats or clears, announced once it commits.
            long evaluated, late;
            using (_alarms.BeginBatch())
            {
                (evaluated, late) = Evaluate(item);
            }

            if (evaluated > 0)
            {
                Volatile.Write(ref _stateChanged, 1);
            }

            // Counted once the write's alarms are written: a reader that sees the count sees their effect.
            Interlocked.Add(ref _late, late);
            Interlocked.Add(ref _points, evaluated);
        }
        finally
        {
            Interlocked.Add(ref _waitingPoints, -item.Batch!.Count);
            _pool.Return(item.Batch!);
        }

        await Task.CompletedTask;
    }

    /// <summary>Stops the clock, evaluates what is queued, writes the state (when kept), then stops.</summary>
    public new async ValueTask DisposeAsync()
    {
        _registry.Changed -= Rebuild;
        await _ticker.DisposeAsync();
        await base.DisposeAsync();

        // The engine's task has ended: this thread is now the only one touching the state.
        SaveState();
    }

    private void QueueTick()
    {
        if ((_set.Absence.Length > 0 || SnapshotDue(_time.GetUtcNow().UtcTicks)) && Interlocked.Exchange(ref _tickQueued, 1) == 0)
        {
            Enqueue(RuleWork.Tick);
        }
    }

    private (long Evaluated, long Late) Evaluate(RuleWork work)
    {
        var batch = work.Batch!;
        var measurements = work.Set.Namespace(work.Namespace);
        if (measurements is null)
        {
            return (0, 0);
        }

        _generation++;
        long evaluated = 0, late = 0;
        byte[] deviceTag = DeviceTagOf(work.Namespace);
        long nowTicks = _time.GetUtcNow().UtcTicks;
        if (!ReferenceEquals(work.Set, _groupsOf))
        {
            ForgetGoneRules(work.Set);
        }

        // Consecutive points are mostly of one measurement: its group is found again without a lookup.
        CompiledRule[]? lastRules = null;
        RuleGroup? group = null;
        for (int i = 0; i < batch.Count; i++)
        {
            ref readonly var point = ref batch[i];
            if (RuleSet.Lookup(measurements, batch.Text(point.Measurement), ref _workerScratch) is not { } rules)
            {
                continue;
            }

            if (!ReferenceEquals(rules, lastRules))
            {
                lastRules = rules;
                group = GroupOf(rules);
            }

            var key = KeyOf(batch, in point, deviceTag, out bool isDevice);
            var device = isDevice ? DeviceOf(key) : null;
            _row.Bind(batch, i, device);
            evaluated++;

            // The device's state in every rule of the measurement, found with one lookup rather than one per rule.
            var entry = group!.EntryOf(key);
            long timeNs = point.Timestamp;
            if (entry is null)
            {
                for (int r = 0; r < rules.Length; r++)
                {
                    late += Visit(rules[r], group.States[r].KeyOf(key, this), i, timeNs, nowTicks);
                }
            }
            else if (entry.Candidates is { } candidates && timeNs >= entry.NewestNs && group.SameSeries(entry, _row))
            {
                // In order and the same series as when the rules were sorted: only those that can hold are evaluated.
                foreach (int r in candidates)
                {
                    late += Visit(rules[r], entry.States[r] ?? group.NewState(entry, r, key, this), i, timeNs, nowTicks);
                }

                if (entry.Indexing)
                {
                    VisitIndexed(group, entry, rules, key, i, timeNs, nowTicks);
                }

                entry.NewestNs = timeNs;
                entry.SeenNs = timeNs;
                if (entry.Skipping)
                {
                    entry.SkippedUpToNs = timeNs;
                }
            }
            else
            {
                // A new device or series, or a late point: every rule, exactly as without the prefilter, then sorted again.
                entry.CatchUpSkipped();
                long newest = entry.NewestNs;
                for (int r = 0; r < rules.Length; r++)
                {
                    if (entry.States[r] is null && (group.CannotHold(r, _row) || (_indexRules && group.FailsBound(r, _row))))
                    {
                        // No state yet and none needed: it would only note the point's time, which the entry notes for
                        // every rule it keeps no state for, so most devices cost no state in most rules.
                        late += timeNs < entry.SeenNs ? 1 : 0;
                        continue;
                    }

                    var keyState = entry.States[r] ?? group.NewState(entry, r, key, this);
                    late += Visit(rules[r], keyState, i, timeNs, nowTicks);
                    newest = Math.Max(newest, keyState?.NewestNs ?? long.MinValue);
                }

                entry.NewestNs = Math.Max(newest, timeNs);
                entry.SeenNs = Math.Max(entry.SeenNs, timeNs);
                group.Sort(entry, _row, _indexRules);
            }
        }

        foreach (var keyState in _dirty)
        {
            if (keyState.Alarm is { IsOpen: true } alarm)
            {
                _row.Bind(batch, keyState.LastIndex, keyState.Device);
                _row.Memory = null;
                _alarms.Repeat(alarm, keyState.Repeats, ValuesJson(keyState.Rule));
            }

            keyState.Repeats = 0;
            keyState.Dirty = false;
        }

        _dirty.Clear();
        return (evaluated, late);
    }

    /// <summary>
    /// The indexed rules of an in-order point: those whose <see cref="NumericBound"/> the point meets, found by reading
    /// each indexed column once, and those pending or with an open alarm (active), which must see every point to clear,
    /// repeat or end their <c>for</c>. An idle rule whose bound the point fails would only note the point's time (its
    /// condition is not true): <see cref="DeviceRules.SkippedUpToNs"/> notes it for all of them at once. No point
    /// here is late for any rule (it is at least as new as the newest any rule of the group saw), so none is counted.
    /// </summary>
    private void VisitIndexed(RuleGroup group, DeviceRules entry, CompiledRule[] rules, ReadOnlySpan<byte> key, int index, long timeNs, long nowTicks)
    {
        // Rules made active here join the list after it has been walked, so that none is visited twice for one point.
        int wereActive = entry.ActiveCount;
        foreach (var field in group.Index)
        {
            var value = _row.Column(field.Symbol);
            if (value.Kind != RuleValueKind.Number)
            {
                continue;
            }

            // Thresholds ascending for '>' and descending for '<': the rules a value meets are a prefix of each.
            double x = value.Number;
            foreach (var bound in field.Above)
            {
                if (!(bound.Threshold <= x))
                {
                    break;
                }

                if (bound.Threshold < x || bound.Inclusive)
                {
                    VisitIdle(group, entry, rules, bound.Rule, key, index, timeNs, nowTicks);
                }
            }

            // NaN orders below every number (double.CompareTo, as the comparison itself): it meets every '<'.
            bool nan = double.IsNaN(x);
            foreach (var bound in field.Below)
            {
                if (!nan && bound.Threshold < x)
                {
                    break;
                }

                if (nan || bound.Threshold > x || bound.Inclusive)
                {
                    VisitIdle(group, entry, rules, bound.Rule, key, index, timeNs, nowTicks);
                }
            }
        }

        int kept = 0;
        var active = entry.Active;
        for (int a = 0; a < wereActive; a++)
        {
            int r = active[a];
            var keyState = entry.States[r];
            Visit(rules[r], keyState, index, timeNs, nowTicks);
            if (IsIdle(keyState))
            {
                entry.Modes[r] = DeviceRules.ModeIdle;
            }
            else
            {
                active[kept++] = r;
            }
        }

        for (int a = wereActive; a < entry.ActiveCount; a++)
        {
            active[kept++] = active[a];
        }

        entry.ActiveCount = kept;
    }

    private void VisitIdle(RuleGroup group, DeviceRules entry, CompiledRule[] rules, int r, ReadOnlySpan<byte> key, int index, long timeNs, long nowTicks)
    {
        if (entry.Modes[r] != DeviceRules.ModeIdle)
        {
            return;
        }

        var keyState = entry.States[r] ?? group.NewState(entry, r, key, this);
        Visit(rules[r], keyState, index, timeNs, nowTicks);
        if (!IsIdle(keyState))
        {
            entry.Modes[r] = DeviceRules.ModeActive;
            entry.Active[entry.ActiveCount++] = r;
        }
    }

    /// <summary>No pending <c>for</c> and no open alarm: a point that does not make its condition true changes nothing but its newest time.</summary>
    private static bool IsIdle(KeyState? keyState) => keyState is null || (keyState.Alarm is not { IsOpen: true } && keyState.PendingSinceNs == NoPending);

    /// <summary>One rule at the bound point; 1 when the point is late for it (older than the newest it saw from the device).</summary>
    private int Visit(CompiledRule rule, KeyState? keyState, int index, long timeNs, long nowTicks)
    {
        if (keyState is null)
        {
            return 0;
        }

        if (timeNs < keyState.NewestNs)
        {
            return 1;
        }

        keyState.NewestNs = timeNs;
        _row.Memory = keyState.Memory;
        if (rule.IsAbsence)
        {
            Arrived(rule, keyState, index, nowTicks);
        }
        else
        {
            Threshold(rule, keyState, index, timeNs);
        }

        return 0;
    }

    private void Threshold(CompiledRule rule, KeyState key, int index, long timeNs)
    {
        var where = rule.Where!.Evaluate(_row);
        if (key.Alarm is { IsOpen: true } alarm)
        {
            if (where.IsTrue)
            {
                key.Repeats++;
                key.LastIndex = index;
                key.Device = _row.Device;
                if (!key.Dirty)
                {
                    key.Dirty = true;
                    _dirty.Add(key);
                }

                return;
            }

            bool clear = rule.ClearWhen is { } clearWhen ? clearWhen.IsTrue(_row) : where is { Kind: RuleValueKind.Boolean, IsTrue: false };
            if (clear)
            {
                FlushRepeats(key);
                _alarms.ClearByRule(alarm, ValuesJson(rule));
                key.Alarm = null;
            }

            return;
        }

        key.Alarm = null;
        if (!where.IsTrue)
        {
            key.PendingSinceNs = NoPending;
            return;
        }

        if (key.PendingSinceNs == NoPending)
        {
            key.PendingSinceNs = timeNs;
        }

        if (timeNs - key.PendingSinceNs >= rule.ForNs)
        {
            key.PendingSinceNs = NoPending;
            key.Alarm = _alarms.Raise(rule.Name, key.Key, rule.Definition.Severity, ValuesJson(rule), timeNs);
        }
    }

    private void Arrived(CompiledRule rule, KeyState key, int index, long nowTicks)
    {
        if (rule.Where is { } where && !where.IsTrue(_row))
        {
            return;
        }

        key.LastArrivalTicks = nowTicks;
        if (key.Alarm is { IsOpen: true } alarm)
        {
            _alarms.ClearByRule(alarm, ValuesJson(rule));
        }

        key.Alarm = null;
        _ = index;
    }

    private void CheckAbsence(RuleSet set)
    {
        long now = _time.GetUtcNow().UtcTicks;
        foreach (var rule in set.Absence)
        {
            var state = StateOf(rule);
            long limit = rule.Definition.AbsentFor!.Value.Ticks;
            foreach (var key in state.All)
            {
                if (key.Alarm is { IsOpen: true } || key.LastArrivalTicks == 0 || now - key.LastArrivalTicks < limit)
                {
                    continue;
                }

                string value = JsonSerializer.Serialize(new Dictionary<string, string> { ["last_seen"] = new DateTime(key.LastArrivalTicks, DateTimeKind.Utc).ToString("O", System.Globalization.CultureInfo.InvariantCulture) });
                key.Alarm = _alarms.Raise(rule.Name, key.Key, rule.Definition.Severity, value, key.NewestNs == long.MinValue ? now * 100 : key.NewestNs);
            }
        }
    }

    private void FlushRepeats(KeyState key)
    {
        if (key.Dirty && key.Alarm is { } alarm && key.Repeats > 0)
        {
            _alarms.Repeat(alarm, key.Repeats, alarm.Record.LastValue);
            key.Repeats = 0;
        }
    }

    /// <summary>The rule set changed: the states of rules that are gone are forgotten, and the groups are built afresh.</summary>
    private void ForgetGoneRules(RuleSet set)
    {
        var running = new HashSet<CompiledRule>(set.All, ReferenceEqualityComparer.Instance);
        foreach (var gone in _states.Keys.Where(r => !running.Contains(r)).ToList())
        {
            _states.Remove(gone);
        }

        CatchUpSkipped();
        _groups.Clear();
        _groupsOf = set;
    }

    private RuleGroup GroupOf(CompiledRule[] rules)
    {
        if (!_groups.TryGetValue(rules, out var group) || group.Epoch != _statesEpoch)
        {
            group = new RuleGroup(rules, [.. rules.Select(StateOf)], _statesEpoch);
            _groups[rules] = group;
        }

        return group;
    }

    private RuleState StateOf(CompiledRule rule)
    {
        if (!_states.TryGetValue(rule, out var state))
        {
            // A new or changed rule: watch again the devices whose alarms are open (after a restart, an absence rule
            // clears them when data comes back).
            state = new RuleState(rule);
            _states[rule] = state;
            long now = _time.GetUtcNow().UtcTicks;
            foreach (var (device, alarm) in _alarms.OpenOf(rule.Name))
            {
                if (state.KeyOf(Encoding.UTF8.GetBytes(device), this) is { } key)
                {
                    key.Alarm = alarm;
                    key.LastArrivalTicks = now;
                }
            }
        }

        return state;
    }

    /// <summary>The device tag's value, or the point's series (measurement and tags as written) when it has none.</summary>
    private ReadOnlySpan<byte> KeyOf(PointBatch batch, in PointEntry point, byte[] deviceTag, out bool isDevice)
    {
        foreach (var tag in batch.Tags(in point))
        {
            if (Ascii.EqualsIgnoreCase(batch.Text(tag.Key), deviceTag))
            {
                isDevice = true;
                return batch.Text(tag.Value);
            }
        }

        isDevice = false;
        int length = 0;
        Append(ref length, batch.Text(point.Measurement));
        foreach (var tag in batch.Tags(in point))
        {
            Append(ref length, ","u8);
            Append(ref length, batch.Text(tag.Key));
            Append(ref length, "="u8);
            Append(ref length, batch.Text(tag.Value));
        }

        return _seriesKey.AsSpan(0, length);
    }

    private void Append(ref int length, ReadOnlySpan<byte> bytes)
    {
        if (length + bytes.Length > _seriesKey.Length)
        {
            Array.Resize(ref _seriesKey, Math.Max(_seriesKey.Length * 2, length + bytes.Length));
        }

        bytes.CopyTo(_seriesKey.AsSpan(length));
        length += bytes.Length;
    }

    private byte[] DeviceTagOf(string ns)
    {
        if (!_deviceTags.TryGetValue(ns, out var tag))
        {
            tag = Encoding.UTF8.GetBytes(_deviceTagFor(ns));
            _deviceTags[ns] = tag;
        }

        return tag;
    }

    /// <summary>The device's facts, cached by its id's bytes and checked against the registry once per write.</summary>
    private RuleDevice DeviceOf(ReadOnlySpan<byte> id)
    {
        if (!_deviceCache.TryGetValue(id, out var entry))
        {
            if (_deviceCache.Count >= MaxCachedDevices)
            {
                _deviceCache.Clear();
            }

            string name = Encoding.UTF8.GetString(id);
            entry = new DeviceEntry(new RuleDevice(name, _devices?.Get(name), _facts)) { CheckedIn = _generation };
            _deviceCache.Set(id, entry);
            return entry.Device;
        }

        if (entry.CheckedIn != _generation)
        {
            entry.CheckedIn = _generation;
            var registered = _devices?.Get(entry.Device.Id);
            if (!ReferenceEquals(registered, entry.Device.Registered))
            {
                entry.Device = new RuleDevice(entry.Device.Id, registered, _facts);
            }
        }

        return entry.Device;
    }

    /// <summary>The values of the columns the rule reads, at the bound point, as a JSON object: what an alarm shows.</summary>
    private string ValuesJson(CompiledRule rule)
    {
        _json.ResetWrittenCount();
        using (var json = new Utf8JsonWriter(_json))
        {
            json.WriteStartObject();
            foreach (string column in (IEnumerable<string>?)rule.Where?.Columns ?? [])
            {
                var value = _row.Column(_symbols.IdOf(column));
                switch (value.Kind)
                {
                    case RuleValueKind.Number:
                        json.WriteNumber(column, value.Number);
                        break;
                    case RuleValueKind.Boolean:
                        json.WriteBoolean(column, value.IsTrue);
                        break;
                    case RuleValueKind.Text:
                        json.WriteString(column, _row.TextOf(value));
                        break;
                    default:
                        json.WriteNull(column);
                        break;
                }
            }

            json.WriteNumber("time_ns", _row.TimeNs);
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(_json.WrittenSpan);
    }

    private void Untracked(CompiledRule rule, int tracked)
    {
        long untracked = Interlocked.Increment(ref _untracked);
        if (untracked == 1 || untracked % 1000 == 0)
        {
            if (tracked >= MaxKeysPerRule)
            {
                Log.TooManyKeys(_logger, rule.Name, MaxKeysPerRule, untracked);
            }
            else
            {
                Log.TooMuchState(_logger, rule.Name, tracked, rule.WindowBytes, _registry.Limits.StateBytesPerRule, untracked);
            }
        }
    }

    /// <summary>Brings the skipped rules' newest times up to date in every group: before their states are read or the groups dropped.</summary>
    private void CatchUpSkipped()
    {
        foreach (var group in _groups.Values)
        {
            group.CatchUpSkipped();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3202, Level = LogLevel.Warning, Message = "Rule {Rule} is not evaluated: {Problem}")]
        public static partial void NotCompiled(ILogger logger, string rule, string problem);

        [LoggerMessage(EventId = 3204, Level = LogLevel.Warning, Message = "The rule engine fell behind: {Max} points wait for evaluation; points of further writes are not evaluated until it catches up (counted in GET /api/v1/rules/stats)")]
        public static partial void TooManyWaiting(ILogger logger, int max);

        [LoggerMessage(EventId = 3203, Level = LogLevel.Warning, Message = "Rule {Rule} keeps state for {Max} devices or series at most; points of others are not evaluated ({Untracked} so far)")]
        public static partial void TooManyKeys(ILogger logger, string rule, int max, long untracked);

        [LoggerMessage(EventId = 3208, Level = LogLevel.Warning, Message = "Rule {Rule} tracks no more devices or series: the windows of its {Tracked} can hold {BytesPerDevice} bytes each, and --rules-max-state-bytes allows {Limit} for one rule; points of others are not evaluated ({Untracked} so far). Raise the option or give the rule smaller windows")]
        public static partial void TooMuchState(ILogger logger, string rule, int tracked, long bytesPerDevice, long limit, long untracked);
    }
}
