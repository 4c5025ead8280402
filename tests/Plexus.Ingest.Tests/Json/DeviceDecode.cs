using System.Text;
using Plexus.Core;
using Plexus.Ingest.LineProtocol;
using Plexus.Ingest.Tests.TestSupport;

namespace Plexus.Ingest.Tests.Json;

/// <summary>A device-payload decoder under test: one message in, points appended to the batch or an error.</summary>
public delegate bool DeviceDecoder(ReadOnlySpan<byte> payload, PointBatch batch, out IngestError error);

/// <summary>What one message decoded to: its points, or the error as users read it and its kind.</summary>
public sealed record DeviceDecodeResult(bool Ok, IReadOnlyList<DecodedPoint> Points, string? Error, IngestErrorKind Kind)
{
    public IReadOnlyList<string> PointTexts => [.. Points.Select(p => p.ToString())];

    public void AssertPoints(params ExpectedPoint[] expected)
    {
        Assert.True(Ok, $"unexpected error: {Error}");
        Assert.Equal(expected.Length, Points.Count);
        for (int i = 0; i < expected.Length; i++)
        {
            expected[i].AssertMatches(Points[i]);
        }
    }

    public string AssertError()
    {
        Assert.False(Ok, $"expected an error, got points: {string.Join("; ", PointTexts)}");
        Assert.Empty(Points);
        return Assert.IsType<string>(Error);
    }
}

public static class DeviceDecode
{
    private static readonly byte[] SeedLine = Encoding.UTF8.GetBytes("seed,host=a v=1,s=\"earlier point\" 5\nseed,host=b v=2 6\n");

    /// <summary>
    /// Decodes a message the ways a reused batch meets it, and checks they agree:
    /// <list type="number">
    /// <item>into a fresh batch;</item>
    /// <item>again into the same batch, which must then hold both copies (a batch is reused across messages);</item>
    /// <item>after <see cref="PointBatch.Reset"/>;</item>
    /// <item>into a batch that already holds points from elsewhere: a good message appends after them, a bad one
    /// leaves the batch exactly as it was (points, fields and text bytes): a message is one unit.</item>
    /// </list>
    /// </summary>
    public static DeviceDecodeResult Run(byte[] payload, DeviceDecoder decode)
    {
        var batch = new PointBatch(16);
        bool ok = decode(payload, batch, out IngestError typed);
        string? error = ok ? null : typed.ToString();
        List<DecodedPoint> first = DecodedPoint.From(batch);
        string[] firstTexts = [.. first.Select(p => p.ToString())];
        if (!ok)
        {
            Assert.NotEqual(IngestErrorKind.None, typed.Kind);
            Assert.False(string.IsNullOrEmpty(typed.Reason));
            Assert.Equal(0, batch.Count);
            Assert.Equal(0, batch.FieldValueCount);
            Assert.Equal(0, batch.TextBytes);
        }
        else
        {
            Assert.Equal(default, typed);
        }

        bool okAgain = decode(payload, batch, out IngestError errorAgain);
        Assert.Equal(ok, okAgain);
        Assert.Equal(typed, errorAgain);
        Assert.Equal(firstTexts.Concat(firstTexts), DecodedPoint.From(batch).Select(p => p.ToString()));

        batch.Reset();
        okAgain = decode(payload, batch, out errorAgain);
        Assert.Equal(ok, okAgain);
        Assert.Equal(typed, errorAgain);
        Assert.Equal(firstTexts, DecodedPoint.From(batch).Select(p => p.ToString()));

        var seeded = new PointBatch(16);
        LineProtocolParser.Parse(SeedLine, 1, new LineProtocolOptions(TimePrecision.Nanoseconds, 0), seeded, new LineErrorSink());
        string[] seedTexts = [.. DecodedPoint.From(seeded).Select(p => p.ToString())];
        int seedFields = seeded.FieldValueCount;
        int seedText = seeded.TextBytes;
        okAgain = decode(payload, seeded, out errorAgain);
        Assert.Equal(ok, okAgain);
        Assert.Equal(typed, errorAgain);
        Assert.Equal(seedTexts.Concat(firstTexts), DecodedPoint.From(seeded).Select(p => p.ToString()));
        if (!ok)
        {
            Assert.Equal(seedFields, seeded.FieldValueCount);
            Assert.Equal(seedText, seeded.TextBytes);
        }

        return new DeviceDecodeResult(ok, first, error, typed.Kind);
    }
}
