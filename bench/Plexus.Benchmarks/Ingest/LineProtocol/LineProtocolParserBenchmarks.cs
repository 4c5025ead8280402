using System.Globalization;
using System.Text;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Plexus.Core;
using Plexus.Ingest;
using Plexus.Ingest.LineProtocol;
using Plexus.Ingest.Streaming;

namespace Plexus.Benchmarks.Ingest.LineProtocol;

/// <summary>
/// Decoding a TSBS "iot" readings payload of 10,000 lines, against a baseline that only finds the same
/// newlines: the ratio says how far the parser is from the cost of touching every byte once.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ThroughputConfig))]
public class LineProtocolParserBenchmarks : IDisposable
{
    public const int LineCount = 10_000;

    /// <summary>Deterministic, so the reporting host and the benchmark process see the same bytes.</summary>
    public static readonly byte[] Payload = TsbsIotReadings(LineCount);

    private readonly byte[] _payload = Payload;
    private readonly LineProtocolOptions _options = new(TimePrecision.Nanoseconds, 1451606400000000000);
    private PointBatch _batch = null!;
    private LineErrorSink _errors = null!;
    private MemoryStream _body = null!;

    [GlobalSetup]
    public void Setup()
    {
        _batch = new PointBatch(LineCount);
        _errors = new LineErrorSink();
        _body = new MemoryStream(_payload, writable: false);

        // Grow the batch once so that the measured runs see the steady state.
        Parse();
        if (_errors.Count != 0 || _batch.Count != LineCount)
        {
            throw new InvalidOperationException($"payload did not decode cleanly: {_errors.Count} errors, {_batch.Count} points");
        }
    }

    [Benchmark(Baseline = true, Description = "Find newlines only")]
    public int FindNewlines()
    {
        ReadOnlySpan<byte> rest = _payload;
        int lines = 0;
        int newline;
        while ((newline = rest.IndexOf((byte)'\n')) >= 0)
        {
            lines++;
            rest = rest[(newline + 1)..];
        }

        return lines;
    }

    [Benchmark(Description = "LineProtocolParser.Parse")]
    public int Parse()
    {
        _batch.Reset();
        _errors.Reset();
        return LineProtocolParser.Parse(_payload, 1, _options, _batch, _errors);
    }

    [Benchmark(Description = "LineProtocolStream.DecodeAsync")]
    public async Task<int> DecodeStream()
    {
        _batch.Reset();
        _errors.Reset();
        _body.Position = 0;
        StreamDecodeResult result = await LineProtocolStream.DecodeAsync(_body, _options, _batch, _errors, long.MaxValue, CancellationToken.None);
        return result.Lines;
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _body?.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// Lines shaped like TSBS's iot use case ("readings" measurement): five tags, seven float fields with the
    /// precision TSBS writes, nanosecond timestamps ten seconds apart.
    /// </summary>
    public static byte[] TsbsIotReadings(int lines)
    {
        string[] fleets = ["South", "North", "East", "West", "Central"];
        string[] drivers = ["Trish", "Derek", "Albert", "Seth", "Zeke", "Andy", "Rodney"];
        string[] models = ["H-2", "F-150", "G-2000"];
        string[] versions = ["v1.0", "v1.5", "v2.0", "v2.3"];
        var random = new Random(1451606400);
        var text = new StringBuilder(lines * 200);
        for (int i = 0; i < lines; i++)
        {
            int truck = i % 1000;
            text.Append(CultureInfo.InvariantCulture, $"readings,name=truck_{truck},fleet={fleets[truck % fleets.Length]},driver={drivers[truck % drivers.Length]},model={models[truck % models.Length]},device_version={versions[truck % versions.Length]} ");
            text.Append(CultureInfo.InvariantCulture, $"latitude={random.Next(0, 9000) / 100.0},longitude={random.Next(0, 18000) / 100.0},elevation={random.Next(0, 5000)},velocity={random.Next(0, 100)},heading={random.Next(0, 360)},grade={random.Next(0, 100)},fuel_consumption={random.Next(0, 50)} ");
            text.Append(1451606400000000000L + (i / 1000 * 10_000_000_000L)).Append('\n');
        }

        return Encoding.UTF8.GetBytes(text.ToString());
    }

    private sealed class ThroughputConfig : ManualConfig
    {
        public ThroughputConfig()
        {
            AddColumn(ThroughputColumn.LinesPerSecond(LineCount));
            AddColumn(ThroughputColumn.MegabytesPerSecond(Payload.Length));
        }
    }
}
