using System.Collections.ObjectModel;
using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Plexus.Simulator;

/// <summary>What the chaos did so far; read it at any time, it is final once <see cref="FleetSimulator.TryRead"/> returned false.</summary>
public sealed class FleetChaosCounters
{
    /// <summary>Rows handed out by the simulator.</summary>
    public long RowsEmitted { get; internal set; }

    /// <summary>Batches dropped whole (each takes up to <see cref="FleetChaosOptions.BatchSize"/> entries with it).</summary>
    public long BatchesDropped { get; internal set; }

    /// <summary>Entries lost: those of dropped batches plus single dropped entries.</summary>
    public long EntriesDropped { get; internal set; }

    /// <summary>Times a whole batch was parked to be emitted later.</summary>
    public long BatchesParked { get; internal set; }

    /// <summary>Times a single entry was parked to be emitted later (an entry may be parked more than once).</summary>
    public long EntriesParked { get; internal set; }

    /// <summary>Emitted rows with one NULL field.</summary>
    public long NullFields { get; internal set; }

    /// <summary>Emitted rows with one NULL tag.</summary>
    public long NullTags { get; internal set; }
}

/// <summary>
/// A deterministic TSBS-IoT fleet: trucks with their tags, a <c>readings</c> and a <c>diagnostics</c> row per truck per
/// tick, and TSBS's batch-wise chaos (dropped, late and NULL-holed rows). Pull rows with <see cref="TryRead"/> or
/// <see cref="Read"/>; the same <see cref="FleetSimulationOptions"/> always give the same rows in the same order.
/// </summary>
/// <remarks>
/// <para>Design note: the two layers are TSBS's. The <b>base</b> layer (<c>common/simulator.go</c>) walks the entries in
/// measurement-major order: tick k, all trucks' readings, then all trucks' diagnostics, then every truck's
/// distributions advance once. The <b>chaos</b> layer (<c>iot/simulator.go</c>, <c>batch_config.go</c>) pulls
/// entries from the base in batches of ten and, per batch, draws a configuration:</para>
/// <code>
///   batch:  1 % dropped (10 base entries consumed) │ 5 % parked │ if batches are parked, 50 % emit the oldest one instead
///   slot i: if entries are parked, 50 % take the oldest parked entry instead of a base entry
///           10 % the entry is dropped                                  ─┐ both move the slot cursor on by one (offset)
///           30 % the entry is parked                                   ─┘ and the slot is refilled from the next entry
///           10 % one field NULL (index drawn from 7, then mod the row's field count); 1 % one tag NULL (of 8)
/// </code>
/// <para>Decisions are looked up at <c>slot + offset</c>; past slot 9 nothing happens to an entry. That TSBS detail makes
/// the effective rates a little lower than the nominal ones (about 9.9 % of rows lost rather than 10.9 %, about
/// 9 % NULL-field rows rather than 10 %), and is kept so row counts compare with TSBS data sets. Parked items come
/// out after the base is exhausted: batches first, then entries ten at a time.</para>
/// <para>Deliberate difference: TSBS keeps pulling base entries past the end when a dropped or parked entry needs a
/// refill in the last batch, which yields a few rows stamped with the end time; here the base stops at the end,
/// so every row lies in [Start, End).</para>
/// <para>Randomness: each truck has its own xoshiro256** stream (seeded from (seed, truck index)), so truck_7's values
/// do not depend on the fleet size or on the chaos settings; the chaos has a stream of its own.</para>
/// </remarks>
public sealed class FleetSimulator
{
    private const int BatchSize = FleetChaosOptions.BatchSize;
    private const ulong ChaosStream = ulong.MaxValue;

    private readonly Truck[] _trucks;
    private readonly TruckSensors[] _sensors;
    private readonly FleetChaosOptions _chaos;
    private readonly bool _chaosEnabled;
    private readonly long _startNanoseconds;
    private readonly long _intervalNanoseconds;
    private readonly long _totalEntries;
    private Xoshiro256StarStar _chaosRandom;

    // Base layer position: the next entry is (epoch, measurement, truck).
    private long _entriesMade;
    private long _epoch;
    private int _measurement;
    private int _truck;

    // Chaos layer: the batch being handed out, and what is parked for later.
    private FleetRow[] _current = new FleetRow[BatchSize];
    private int _currentCount;
    private int _currentPosition;
    private readonly Queue<ParkedBatch> _parkedBatches = new();
    private readonly Queue<FleetRow> _parkedEntries = new();
    private readonly Stack<FleetRow[]> _spareBatches = new();

    public FleetSimulator(FleetSimulationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        _chaos = options.Chaos;
        _chaosEnabled = _chaos.IsEnabled;
        _startNanoseconds = (options.Start - DateTimeOffset.UnixEpoch).Ticks * 100;
        _intervalNanoseconds = options.Interval.Ticks * 100;
        _totalEntries = options.TotalEntries;
        _chaosRandom = Xoshiro256StarStar.Create(options.Seed, ChaosStream);

        _trucks = new Truck[options.Trucks];
        _sensors = new TruckSensors[options.Trucks];
        for (int i = 0; i < _trucks.Length; i++)
        {
            var sensors = TruckSensors.Create(Xoshiro256StarStar.Create(options.Seed, (ulong)i));
            // TSBS order: model, fleet, driver, device_version.
            var model = FleetSchema.Models[sensors.Random.NextInt(FleetSchema.Models.Count)];
            string fleet = FleetSchema.Fleets[sensors.Random.NextInt(FleetSchema.Fleets.Count)];
            string driver = FleetSchema.Drivers[sensors.Random.NextInt(FleetSchema.Drivers.Count)];
            string version = FleetSchema.DeviceVersions[sensors.Random.NextInt(FleetSchema.DeviceVersions.Count)];
            _trucks[i] = new Truck(i, fleet, driver, model, version);
            _sensors[i] = sensors;
        }

        Trucks = new ReadOnlyCollection<Truck>(_trucks);
    }

    public FleetSimulationOptions Options { get; }

    public ReadOnlyCollection<Truck> Trucks { get; }

    /// <summary>Entries before chaos: ticks × trucks × 2.</summary>
    public long TotalEntries => _totalEntries;

    /// <summary>Base entries generated so far (emitted, dropped or parked); <c>EntriesGenerated / TotalEntries</c> is the progress.</summary>
    public long EntriesGenerated => _entriesMade;

    public FleetChaosCounters Counters { get; } = new();

    /// <summary>True once every row has been handed out.</summary>
    public bool IsFinished => BaseFinished && _currentPosition == _currentCount && _parkedBatches.Count == 0 && _parkedEntries.Count == 0;

    private bool BaseFinished => _entriesMade >= _totalEntries;

    /// <summary>The next row, or false at the end of the run.</summary>
    public bool TryRead(out FleetRow row)
    {
        if (!_chaosEnabled)
        {
            // Fast path: no batch machinery, rows come straight from the base in TSBS order.
            if (BaseFinished)
            {
                row = default;
                return false;
            }

            NextBaseEntry(out row);
            Counters.RowsEmitted++;
            return true;
        }

        while (_currentPosition == _currentCount)
        {
            if (!SimulateNextBatch())
            {
                row = default;
                return false;
            }
        }

        row = _current[_currentPosition++];
        Counters.RowsEmitted++;
        return true;
    }

    /// <summary>Fills <paramref name="destination"/> with the next rows; returns how many (0 at the end of the run).</summary>
    public int Read(Span<FleetRow> destination)
    {
        int count = 0;
        while (count < destination.Length && TryRead(out destination[count]))
        {
            count++;
        }

        return count;
    }

    /// <summary>TSBS <c>BaseSimulator.Next</c>: the next entry in measurement-major order, ticking every truck at each new epoch.</summary>
    private void NextBaseEntry(out FleetRow row)
    {
        Debug.Assert(!BaseFinished, "the base is never asked for more than TotalEntries");
        if (_truck == _trucks.Length)
        {
            _truck = 0;
            _measurement++;
            if (_measurement == 2)
            {
                _measurement = 0;
                _epoch++;
                TickAll();
            }
        }

        var measurement = (FleetMeasurement)_measurement;
        row = new FleetRow(measurement, _truck, _startNanoseconds + (_epoch * _intervalNanoseconds));
        ref readonly var sensors = ref _sensors[_truck];
        if (measurement == FleetMeasurement.Readings)
        {
            sensors.WriteReadings(ref row);
        }
        else
        {
            sensors.WriteDiagnostics(ref row);
        }

        _entriesMade++;
        _truck++;
    }

    private void TickAll()
    {
        var sensors = _sensors.AsSpan();
        for (int i = 0; i < sensors.Length; i++)
        {
            sensors[i].Advance();
        }
    }

    /// <summary>TSBS <c>simulateNextBatch</c>, as a loop: makes the next non-empty batch current, or returns false at the end.</summary>
    private bool SimulateNextBatch()
    {
        while (true)
        {
            if (BaseFinished)
            {
                return TakePendingBatch();
            }

            var config = NewBatchConfig();
            if (config.InsertPrevious)
            {
                Debug.Assert(_parkedBatches.Count > 0, "insert-previous is only drawn when batches are parked");
                SetCurrent(_parkedBatches.Dequeue());
                return true;
            }

            if (config.Missing)
            {
                DropBatch();
                continue;
            }

            var batch = GenerateBatch(ref config);
            if (config.OutOfOrder)
            {
                if (batch.Count > 0)
                {
                    _parkedBatches.Enqueue(batch);
                    Counters.BatchesParked++;
                }
                else
                {
                    _spareBatches.Push(batch.Rows);
                }

                continue;
            }

            SetCurrent(batch);
            if (_currentCount > 0)
            {
                return true;
            }
        }
    }

    /// <summary>TSBS <c>batchPending</c>: after the base is done, parked batches come out first, then parked entries ten at a time.</summary>
    private bool TakePendingBatch()
    {
        if (_parkedBatches.Count > 0)
        {
            SetCurrent(_parkedBatches.Dequeue());
            return true;
        }

        if (_parkedEntries.Count > 0)
        {
            var rows = RentBatch();
            int count = 0;
            while (count < BatchSize && _parkedEntries.TryDequeue(out var entry))
            {
                rows[count++] = entry;
            }

            SetCurrent(new ParkedBatch(rows, count));
            return true;
        }

        return false;
    }

    /// <summary>TSBS <c>generateBatch</c> + <c>getNextEntry</c>.</summary>
    private ParkedBatch GenerateBatch(ref BatchConfig config)
    {
        var rows = RentBatch();
        int count = 0;
        int offset = 0;
        for (int slot = 0; slot < BatchSize; slot++)
        {
            if (BaseFinished || !TryNextEntry(slot, ref offset, ref config, out var entry))
            {
                break;
            }

            int zeroField = config.ZeroField[slot];
            if (zeroField >= 0)
            {
                int fieldCount = entry.FieldCount;
                entry.NullField = (sbyte)(zeroField >= fieldCount ? zeroField % fieldCount : zeroField);
                Counters.NullFields++;
            }

            int zeroTag = config.ZeroTag[slot];
            if (zeroTag >= 0)
            {
                entry.NullTag = (sbyte)zeroTag;
                Counters.NullTags++;
            }

            rows[count++] = entry;
        }

        return new ParkedBatch(rows, count);
    }

    /// <summary>
    /// TSBS <c>getNextEntry</c>: the entry for a slot, skipping over dropped and parked ones. Decisions are read at
    /// <c>slot + offset</c>, and every skipped entry moves that cursor on, so a batch always ends on its tenth entry.
    /// </summary>
    private bool TryNextEntry(int slot, ref int offset, ref BatchConfig config, out FleetRow entry)
    {
        while (true)
        {
            int position = slot + offset;
            if (config.InsertPreviousEntry(position))
            {
                // Never empty: insert slots are drawn only while the parked count (taken at draw time) is positive.
                entry = _parkedEntries.Dequeue();
            }
            else
            {
                if (BaseFinished)
                {
                    entry = default;
                    return false; // TSBS would pull past the end here; see the class remarks.
                }

                NextBaseEntry(out entry);
            }

            if (config.MissingEntry(position))
            {
                Counters.EntriesDropped++;
                offset++;
                continue;
            }

            if (config.OutOfOrderEntry(position))
            {
                _parkedEntries.Enqueue(entry);
                Counters.EntriesParked++;
                offset++;
                continue;
            }

            return true;
        }
    }

    /// <summary>TSBS <c>flushBatch</c>: a dropped batch consumes ten base entries.</summary>
    private void DropBatch()
    {
        Counters.BatchesDropped++;
        for (int i = 0; i < BatchSize && !BaseFinished; i++)
        {
            NextBaseEntry(out _);
            Counters.EntriesDropped++;
        }
    }

    /// <summary>TSBS <c>newBatchConfig</c>, drawing in the same order from the chaos stream.</summary>
    private BatchConfig NewBatchConfig()
    {
        var config = new BatchConfig();
        config.ZeroField.Fill();
        config.ZeroTag.Fill();
        if (_chaosRandom.NextDouble() < _chaos.BatchMissingChance)
        {
            config.Missing = true;
            return config;
        }

        config.OutOfOrder = _chaosRandom.NextDouble() < _chaos.BatchOutOfOrderChance;
        if (_parkedBatches.Count > 0)
        {
            config.InsertPrevious = _chaosRandom.NextDouble() < _chaos.BatchInsertPreviousChance;
        }

        int parkedEntries = _parkedEntries.Count;
        for (int i = 0; i < BatchSize; i++)
        {
            if (parkedEntries > 0 && _chaosRandom.NextDouble() < _chaos.EntryInsertPreviousChance)
            {
                config.InsertPreviousMask |= (ushort)(1 << i);
                parkedEntries--;
            }

            if (_chaosRandom.NextDouble() < _chaos.EntryMissingChance)
            {
                config.MissingMask |= (ushort)(1 << i);
                continue; // A dropped entry gets no NULLs and is not parked.
            }

            if (_chaosRandom.NextDouble() < _chaos.ZeroFieldChance)
            {
                config.ZeroField[i] = (sbyte)_chaosRandom.NextInt(FleetSchema.MaxFieldCount);
            }

            if (_chaosRandom.NextDouble() < _chaos.ZeroTagChance)
            {
                config.ZeroTag[i] = (sbyte)_chaosRandom.NextInt(FleetSchema.TagCount);
            }

            if (_chaosRandom.NextDouble() < _chaos.EntryOutOfOrderChance)
            {
                config.OutOfOrderMask |= (ushort)(1 << i);
            }
        }

        return config;
    }

    private void SetCurrent(ParkedBatch batch)
    {
        if (!ReferenceEquals(_current, batch.Rows))
        {
            _spareBatches.Push(_current);
            _current = batch.Rows;
        }

        _currentCount = batch.Count;
        _currentPosition = 0;
    }

    private FleetRow[] RentBatch() => _spareBatches.Count > 0 ? _spareBatches.Pop() : new FleetRow[BatchSize];

    private readonly record struct ParkedBatch(FleetRow[] Rows, int Count);

    /// <summary>One batch's decisions; bit i of a mask is slot i, and positions past the batch are never set.</summary>
    private struct BatchConfig
    {
        public bool InsertPrevious;
        public bool Missing;
        public bool OutOfOrder;
        public ushort InsertPreviousMask;
        public ushort MissingMask;
        public ushort OutOfOrderMask;
        public SlotValues ZeroField;
        public SlotValues ZeroTag;

        public readonly bool InsertPreviousEntry(int position) => position < BatchSize && ((InsertPreviousMask >> position) & 1) != 0;

        public readonly bool MissingEntry(int position) => position < BatchSize && ((MissingMask >> position) & 1) != 0;

        public readonly bool OutOfOrderEntry(int position) => position < BatchSize && ((OutOfOrderMask >> position) & 1) != 0;
    }

    /// <summary>A value per slot; -1 means none.</summary>
    [InlineArray(BatchSize)]
    private struct SlotValues
    {
        private sbyte _element;

        public void Fill() => ((Span<sbyte>)this).Fill(-1);
    }
}
