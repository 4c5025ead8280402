namespace Plexus.Storage;

/// <summary>
/// How far writes may grow the schema. Every new namespace, measurement and column is DDL that the single writer
/// runs inside its loop while every other writer waits, and every column makes each later transaction that touches
/// its measurement slower; without limits one device token could create a 5,000-column table or a thousand tables
/// with one 8 KB write. The writer checks each limit against its in-memory catalog before any DDL of the write it
/// refuses (docs/configuration.md#schema-limits has the measured costs behind each default).
/// </summary>
/// <remarks>
/// Two kinds: totals (namespaces, measurements per namespace, columns per measurement) refuse the line that would
/// pass them, as a type conflict does; per-write limits (new measurements, columns and series in one request) refuse
/// the whole request, since a smaller request would be accepted. Writes of Plexus's own device data are exempt
/// (<see cref="Writing.StoreWriter.WithoutSchemaLimits"/>): their schema is fixed and small.
/// </remarks>
public sealed record SchemaLimits
{
    public const string MaxNamespacesOption = "max-namespaces";
    public const string MaxMeasurementsPerNamespaceOption = "max-measurements-per-namespace";
    public const string MaxColumnsPerMeasurementOption = "max-columns-per-measurement";
    public const string MaxNewMeasurementsPerWriteOption = "max-new-measurements-per-write";
    public const string MaxNewColumnsPerWriteOption = "max-new-columns-per-write";
    public const string MaxNewSeriesPerWriteOption = "max-new-series-per-write";

    /// <summary>
    /// Namespaces that hold measurements, <c>main</c> included (a write to <c>main</c> is never refused by it). A
    /// namespace is a SQL schema and a tenant or project boundary; 100 is far above the handful a deployment uses,
    /// and with the per-namespace limit it caps the catalog the writer loads at every start.
    /// </summary>
    public int MaxNamespaces { get; init; } = 100;

    /// <summary>
    /// Measurements in one namespace. Each is two tables and a view (about 2.5 ms of DDL to create), is read back at
    /// every start and joins the generated <c>devices</c> view when it carries the device tag. Fleets use tens;
    /// 1,000 leaves room for a device per measurement on small fleets while keeping the catalog small.
    /// </summary>
    public int MaxMeasurementsPerNamespace { get; init; } = 1_000;

    /// <summary>
    /// Tag and field columns of one measurement. What every later write to a measurement costs the writer grows with
    /// its columns, measured on a loaded 2-core machine: appending one point to a 1,003-column measurement 0.19 s,
    /// merging one late point 1.5 s; at 500 columns about half. 500 is InfluxDB 3's default for the same columnar
    /// reason, and leaves room for wide snapshots such as a PLC's tag list.
    /// </summary>
    public int MaxColumnsPerMeasurement { get; init; } = 500;

    /// <summary>
    /// Measurements one request may create: 100 cost about 0.25 s of DDL on the writer (1,000: 2.5 s), during which
    /// every other writer waits.
    /// </summary>
    public int MaxNewMeasurementsPerWrite { get; init; } = 100;

    /// <summary>
    /// Tag and field columns one request may create, summed over its measurements. A column added to a measurement
    /// that has rows is an ALTER TABLE of about 2–3 ms (DuckDB also fills it for every stored row, so more on a large
    /// one); 128 keep one request's DDL near 0.3 s and still admit the first batch of a Telegraf host with the default
    /// inputs (about 110 columns). A first write with more gets 413 and is split, or the limit raised for it.
    /// </summary>
    public int MaxNewColumnsPerWrite { get; init; } = 128;

    /// <summary>
    /// Series (distinct tag sets) one request may create. A series is no DDL, but each costs the writer's memory
    /// (its key and a window of recent times, about 1 KB) for as long as the process runs; 10,000 per request admits
    /// the first batch of a 10,000-device fleet at once, and bulk requests are usually 5,000–10,000 lines.
    /// </summary>
    public int MaxNewSeriesPerWrite { get; init; } = 10_000;

    public static SchemaLimits Default { get; } = new();

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the option when a limit is below 1.</summary>
    public void Validate()
    {
        Check(MaxNamespaces, MaxNamespacesOption);
        Check(MaxMeasurementsPerNamespace, MaxMeasurementsPerNamespaceOption);
        Check(MaxColumnsPerMeasurement, MaxColumnsPerMeasurementOption);
        Check(MaxNewMeasurementsPerWrite, MaxNewMeasurementsPerWriteOption);
        Check(MaxNewColumnsPerWrite, MaxNewColumnsPerWriteOption);
        Check(MaxNewSeriesPerWrite, MaxNewSeriesPerWriteOption);

        static void Check(int value, string option)
        {
            if (value < 1)
            {
                throw new ArgumentOutOfRangeException(option, value, $"{option} must be at least 1");
            }
        }
    }
}

/// <summary>
/// A whole write refused by a <see cref="SchemaLimits"/> limit before any of it was stored: the message names the
/// limit, the value the write would reach and the option that raises it.
/// </summary>
public sealed class SchemaLimitException : StorageException
{
    public SchemaLimitException(string option, long limit, long value, bool perWrite, string message)
        : base(message)
    {
        Option = option;
        Limit = limit;
        Value = value;
        PerWrite = perWrite;
    }

    public SchemaLimitException()
        : this("", 0, 0, false, "a schema limit was reached")
    {
    }

    public SchemaLimitException(string message)
        : this("", 0, 0, false, message)
    {
    }

    public SchemaLimitException(string message, Exception inner)
        : base(message, inner)
    {
        Option = "";
    }

    /// <summary>The `plexus serve` option (and config key) without dashes, e.g. <c>max-new-measurements-per-write</c>.</summary>
    public string Option { get; }

    public long Limit { get; }

    /// <summary>What the write would have reached.</summary>
    public long Value { get; }

    /// <summary>True for a per-request limit (a smaller request is accepted); false for a total (namespaces).</summary>
    public bool PerWrite { get; }
}
