using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Plexus.LoadBench;

/// <summary>
/// A deterministic TSBS-IoT-like data set (timescale/tsbs `pkg/data/usecases/iot`, summarised in
/// shared/reference/performance-anchors.md §1.2), held in memory as pre-encoded line-protocol request
/// bodies and, for the DuckDB baseline, as typed rows.
/// </summary>
/// <remarks>
/// What is kept from TSBS: the tag set and its choices, the numeric tags derived from the model, the
/// field generators (clamped random walks truncated to TSBS's decimals, the refuelling fuel state, the
/// lazily changing load, the integer status) and the measurement-major emission order (every truck's
/// `readings` of one tick, then every truck's `diagnostics`).
///
/// What is not (on purpose, to keep the first measurement simple): none of TSBS's "chaos" from
/// §1.3 — no dropped batches, no missing entries, no nil fields or tags, no out-of-order entries. Every
/// truck reports both measurements on every tick, in time order. The three numeric tags are sent as tags
/// (string values); TSBS's Influx serializer sends them as fields. Keeping them tags keeps the number of
/// field values the same as in shared/reference/storage-measurements.md (measurement fields only), so
/// bytes per value compare with those figures.
/// </remarks>
internal sealed class TsbsIotDataSet
{
    public const string ReadingsMeasurement = "readings";
    public const string DiagnosticsMeasurement = "diagnostics";
    public const int ReadingsFieldCount = 7;
    public const int DiagnosticsFieldCount = 3;
    public static readonly DateTimeOffset Start = new(2016, 1, 1, 0, 0, 0, TimeSpan.Zero);
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    private static readonly string[] Fleets = ["East", "West", "North", "South"];
    private static readonly string[] Drivers = ["Derek", "Rodney", "Albert", "Andy", "Seth", "Trish"];
    private static readonly string[] DeviceVersions = ["v1.0", "v1.5", "v2.0", "v2.3"];

    // model → load_capacity, fuel_capacity, nominal_fuel_consumption (TSBS truck.go).
    private static readonly (string Model, string LoadCapacity, string FuelCapacity, string NominalFuelConsumption)[] Models =
    [
        ("F-150", "2000", "200", "15"),
        ("G-2000", "5000", "300", "19"),
        ("H-2", "1500", "150", "12"),
    ];

    private TsbsIotDataSet(IReadOnlyList<TruckTags> trucks, byte[][] batches, int[] linesPerBatch, ReadingsRow[]? readings, DiagnosticsRow[]? diagnostics, int ticks, TimeSpan generationTime)
    {
        Trucks = trucks;
        Batches = batches;
        LinesPerBatch = linesPerBatch;
        Readings = readings;
        Diagnostics = diagnostics;
        Ticks = ticks;
        GenerationTime = generationTime;
    }

    public IReadOnlyList<TruckTags> Trucks { get; }

    /// <summary>Request bodies, each a whole number of lines ending in '\n'.</summary>
    public byte[][] Batches { get; }

    public int[] LinesPerBatch { get; }

    /// <summary>The same rows as the batches, typed, in the same order per measurement; null unless asked for.</summary>
    public ReadingsRow[]? Readings { get; }

    public DiagnosticsRow[]? Diagnostics { get; }

    public int Ticks { get; }

    public TimeSpan GenerationTime { get; }

    /// <summary>Rows (= line-protocol lines): two per truck per tick.</summary>
    public long Rows => 2L * Ticks * Trucks.Count;

    /// <summary>Measurement field values (what TSBS calls metrics, without its numeric "fake tag" fields): ten per truck per tick.</summary>
    public long FieldValues => (long)(ReadingsFieldCount + DiagnosticsFieldCount) * Ticks * Trucks.Count;

    public long BodyBytes => Batches.Sum(b => (long)b.Length);

    public static TsbsIotDataSet Generate(int truckCount, double hours, int batchSize, int seed, bool typedRows)
    {
        long started = Stopwatch.GetTimestamp();
        int ticks = checked((int)Math.Floor(hours * 3600 / Interval.TotalSeconds));
        if (ticks < 1)
        {
            throw new ArgumentException($"--hours {hours.ToString(CultureInfo.InvariantCulture)} is shorter than one 10 s interval");
        }

        var random = new Random(seed);
        var trucks = new TruckTags[truckCount];
        var states = new TruckState[truckCount];
        for (int i = 0; i < truckCount; i++)
        {
            var model = Models[random.Next(Models.Length)];
            trucks[i] = new TruckTags(
                $"truck_{i}",
                Fleets[random.Next(Fleets.Length)],
                Drivers[random.Next(Drivers.Length)],
                model.Model,
                DeviceVersions[random.Next(DeviceVersions.Length)],
                model.LoadCapacity,
                model.FuelCapacity,
                model.NominalFuelConsumption);
            states[i] = TruckState.Initial(random);
        }

        // Series keys are the same on every line of a truck: encode them once.
        var readingsPrefix = trucks.Select(t => Encoding.UTF8.GetBytes(t.LinePrefix(ReadingsMeasurement))).ToArray();
        var diagnosticsPrefix = trucks.Select(t => Encoding.UTF8.GetBytes(t.LinePrefix(DiagnosticsMeasurement))).ToArray();

        var readings = typedRows ? new ReadingsRow[(long)ticks * truckCount] : null;
        var diagnostics = typedRows ? new DiagnosticsRow[(long)ticks * truckCount] : null;
        var writer = new BatchWriter(batchSize);
        long startNanos = (Start - DateTimeOffset.UnixEpoch).Ticks * 100;
        long intervalNanos = Interval.Ticks * 100;
        for (int tick = 0; tick < ticks; tick++)
        {
            long time = startNanos + tick * intervalNanos;
            for (int i = 0; i < truckCount; i++)
            {
                ref var s = ref states[i];
                var row = new ReadingsRow(i, time,
                    Truncate(s.Latitude, 5), Truncate(s.Longitude, 5), Truncate(s.Elevation, 0), Truncate(s.Velocity, 0),
                    Truncate(s.Heading, 0), Truncate(s.Grade, 0), Truncate(s.FuelConsumption, 1));
                writer.BeginLine(readingsPrefix[i]);
                writer.Field("latitude=", row.Latitude, first: true);
                writer.Field("longitude=", row.Longitude);
                writer.Field("elevation=", row.Elevation);
                writer.Field("velocity=", row.Velocity);
                writer.Field("heading=", row.Heading);
                writer.Field("grade=", row.Grade);
                writer.Field("fuel_consumption=", row.FuelConsumption);
                writer.EndLine(time);
                if (readings is not null)
                {
                    readings[(long)tick * truckCount + i] = row;
                }
            }

            for (int i = 0; i < truckCount; i++)
            {
                ref var s = ref states[i];
                var row = new DiagnosticsRow(i, time, Truncate(s.FuelState, 1), Truncate(s.CurrentLoad, 0), (long)Math.Truncate(s.Status));
                writer.BeginLine(diagnosticsPrefix[i]);
                writer.Field("fuel_state=", row.FuelState, first: true);
                writer.Field("current_load=", row.CurrentLoad);
                writer.IntegerField("status=", row.Status);
                writer.EndLine(time);
                if (diagnostics is not null)
                {
                    diagnostics[(long)tick * truckCount + i] = row;
                }
            }

            for (int i = 0; i < truckCount; i++)
            {
                states[i].Advance(random);
            }
        }

        var (batches, lines) = writer.Finish();
        return new TsbsIotDataSet(trucks, batches, lines, readings, diagnostics, ticks, Stopwatch.GetElapsedTime(started));
    }

    // TSBS FP(d, p): float64(int(x·10^p))/10^p, truncation toward zero; "+ 0.0" turns -0 into 0.
    private static double Truncate(double value, int decimals)
    {
        double scale = Math.Pow(10, decimals);
        return (Math.Truncate(value * scale) / scale) + 0.0;
    }

    /// <summary>The random-walk state of one truck; fields follow TSBS's generators.</summary>
    private struct TruckState
    {
        public double Latitude;
        public double Longitude;
        public double Elevation;
        public double Velocity;
        public double Heading;
        public double Grade;
        public double FuelConsumption;
        public double FuelState;
        public double CurrentLoad;
        public double Status;

        public static TruckState Initial(Random random) => new()
        {
            Latitude = random.NextDouble() * 90,
            Longitude = random.NextDouble() * 180,
            Elevation = random.NextDouble() * 500,
            Velocity = 0,
            Heading = random.NextDouble() * 360,
            Grade = 0,
            FuelConsumption = 25,
            FuelState = 1,
            CurrentLoad = 0,
            Status = 0,
        };

        public void Advance(Random random)
        {
            Latitude = Walk(Latitude, Uniform(random, -0.005, 0.005), -90, 90);
            Longitude = Walk(Longitude, Uniform(random, -0.005, 0.005), -180, 180);
            Elevation = Walk(Elevation, Uniform(random, -10, 10), 0, 5000);
            Velocity = Walk(Velocity, Uniform(random, -10, 10), 0, 100);
            Heading = Walk(Heading, Uniform(random, -5, 5), 0, 360);
            Grade = Walk(Grade, Uniform(random, -5, 5), 0, 100);
            FuelConsumption = Walk(FuelConsumption, Uniform(random, -5, 5), 0, 50);
            FuelState = Walk(FuelState, Uniform(random, -0.001, 0), 0, 1);
            if (FuelState <= 0)
            {
                FuelState = 1; // refuel
            }

            // LD(UD(0,1), UD(0,5000), 0.95): a new load only when the motive crosses the threshold.
            if (random.NextDouble() >= 0.95)
            {
                CurrentLoad = Uniform(random, 0, 5000);
            }

            Status = Walk(Status, Normal(random), 0, 5);
        }

        private static double Walk(double state, double step, double min, double max) => Math.Clamp(state + step, min, max);

        private static double Uniform(Random random, double min, double max) => min + (random.NextDouble() * (max - min));

        // Box–Muller; one of the pair is enough here.
        private static double Normal(Random random)
        {
            double u1 = 1.0 - random.NextDouble();
            double u2 = random.NextDouble();
            return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
        }
    }

    /// <summary>Appends lines to the current request body and cuts a new body every batch-size lines.</summary>
    private sealed class BatchWriter(int batchSize)
    {
        private readonly List<byte[]> _batches = [];
        private readonly List<int> _lines = [];
        private readonly ArrayBufferWriter<byte> _buffer = new(batchSize * 256);
        private int _linesInBatch;

        public void BeginLine(byte[] prefix) => _buffer.Write(prefix);

        public void Field(string keyAndEquals, double value, bool first = false)
        {
            WriteKey(keyAndEquals, first);
            var span = _buffer.GetSpan(32);
            bool formatted = value.TryFormat(span, out int written, "R", CultureInfo.InvariantCulture);
            Debug.Assert(formatted, "32 bytes hold any double in round-trip form");
            _buffer.Advance(written);
        }

        public void IntegerField(string keyAndEquals, long value)
        {
            WriteKey(keyAndEquals, first: false);
            var span = _buffer.GetSpan(24);
            bool formatted = value.TryFormat(span, out int written, default, CultureInfo.InvariantCulture);
            Debug.Assert(formatted, "24 bytes hold any long");
            span[written] = (byte)'i';
            _buffer.Advance(written + 1);
        }

        public void EndLine(long timestamp)
        {
            var span = _buffer.GetSpan(24);
            span[0] = (byte)' ';
            bool formatted = timestamp.TryFormat(span[1..], out int written, default, CultureInfo.InvariantCulture);
            Debug.Assert(formatted, "23 bytes hold any long");
            span[1 + written] = (byte)'\n';
            _buffer.Advance(written + 2);
            if (++_linesInBatch == batchSize)
            {
                Cut();
            }
        }

        public (byte[][] Batches, int[] Lines) Finish()
        {
            if (_linesInBatch > 0)
            {
                Cut();
            }

            return (_batches.ToArray(), _lines.ToArray());
        }

        private void WriteKey(string keyAndEquals, bool first)
        {
            var span = _buffer.GetSpan(keyAndEquals.Length + 1);
            int at = 0;
            if (!first)
            {
                span[at++] = (byte)',';
            }

            at += Encoding.ASCII.GetBytes(keyAndEquals, span[at..]);
            _buffer.Advance(at);
        }

        private void Cut()
        {
            _batches.Add(_buffer.WrittenSpan.ToArray());
            _lines.Add(_linesInBatch);
            _buffer.ResetWrittenCount();
            _linesInBatch = 0;
        }
    }
}

/// <summary>The TSBS tag set of one truck, fixed for its life; the numeric three follow from the model.</summary>
internal sealed record TruckTags(string Name, string Fleet, string Driver, string Model, string DeviceVersion, string LoadCapacity, string FuelCapacity, string NominalFuelConsumption)
{
    /// <summary>`measurement,tags ` in TSBS's tag order (not sorted; the server sorts them for the series key).</summary>
    public string LinePrefix(string measurement) =>
        $"{measurement},name={Name},fleet={Fleet},driver={Driver},model={Model},device_version={DeviceVersion}," +
        $"load_capacity={LoadCapacity},fuel_capacity={FuelCapacity},nominal_fuel_consumption={NominalFuelConsumption} ";

    public string[] Values => [Name, Fleet, Driver, Model, DeviceVersion, LoadCapacity, FuelCapacity, NominalFuelConsumption];

    public static readonly string[] Keys = ["name", "fleet", "driver", "model", "device_version", "load_capacity", "fuel_capacity", "nominal_fuel_consumption"];
}

internal readonly record struct ReadingsRow(int Series, long Time, double Latitude, double Longitude, double Elevation, double Velocity, double Heading, double Grade, double FuelConsumption);

internal readonly record struct DiagnosticsRow(int Series, long Time, double FuelState, double CurrentLoad, long Status);
