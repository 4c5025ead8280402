using BenchmarkDotNet.Attributes;
using DuckDB.NET.Data;
using DuckDB.NET.Native;
using Plexus.Storage.Writing;

namespace Plexus.Benchmarks.Storage;

/// <summary>
/// The store's append path (DuckDB data chunks filled in place) against DuckDB.NET's row appender, the
/// obvious alternative, on the same 10,000 TSBS-like rows into the same table. Each operation appends
/// inside a transaction and rolls it back, so neither pays for a sync and the table never grows.
/// </summary>
[MemoryDiagnoser]
public class AppendBenchmarks : IDisposable
{
    private const int Rows = 10_000;
    private static readonly DuckDBType[] Types = [DuckDBType.Integer, DuckDBType.TimestampNs, DuckDBType.Double, DuckDBType.Double, DuckDBType.BigInt];

    private string _directory = "";
    private DuckDBConnection _connection = null!;

    [GlobalSetup]
    public void Setup()
    {
        _directory = Path.Combine(Path.GetTempPath(), "plexus-bench-append-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
        _connection = new DuckDBConnection($"DataSource={Path.Combine(_directory, "bench.duckdb")}");
        _connection.Open();
        using var command = _connection.CreateCommand();
        command.CommandText = "CREATE TABLE t (_series_id INTEGER NOT NULL, time TIMESTAMP_NS NOT NULL, velocity DOUBLE, fuel DOUBLE, status BIGINT)";
        command.ExecuteNonQuery();
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _connection?.Dispose();
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }

        GC.SuppressFinalize(this);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Rows)]
    public void DuckDbNetRowAppender()
    {
        using var transaction = _connection.BeginTransaction();
        using (var appender = _connection.CreateAppender("t"))
        {
            var start = new DateTime(2016, 1, 1, 0, 0, 0, DateTimeKind.Utc);
            for (int i = 0; i < Rows; i++)
            {
                appender.CreateRow()
                    .AppendValue(i % 1000)
                    .AppendValue(start.AddSeconds(i))
                    .AppendValue(i * 0.5)
                    .AppendValue(0.25)
                    .AppendValue((long)(i % 4))
                    .EndRow();
            }
        }

        transaction.Rollback();
    }

    [Benchmark(OperationsPerInvoke = Rows)]
    public void PlexusChunkAppender()
    {
        using var transaction = _connection.BeginTransaction();
        using (var appender = new NativeChunkAppender(_connection, "", "main", "t", Types, nonNullLeadingColumns: 2))
        {
            long start = 1_451_606_400_000_000_000;
            for (int i = 0; i < Rows; i++)
            {
                appender.BeginRow();
                appender.SetInt32(0, i % 1000);
                appender.SetInt64(1, start + (i * 1_000_000_000L));
                appender.SetDouble(2, i * 0.5);
                appender.SetDouble(3, 0.25);
                appender.SetInt64(4, i % 4);
                appender.EndRow();
            }

            appender.Close();
        }

        transaction.Rollback();
    }
}
