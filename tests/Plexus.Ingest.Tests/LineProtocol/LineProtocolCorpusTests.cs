using System.Text;
using System.Text.Json;
using Plexus.Core;
using Plexus.Ingest.LineProtocol;
using Plexus.Ingest.Tests.TestSupport;
using Xunit.Abstractions;

namespace Plexus.Ingest.Tests.LineProtocol;

/// <summary>
/// Runs every decode case of InfluxData's line-protocol corpus (Corpus/corpus.json, MIT). A case expects either
/// points (compared exactly: name, tags, fields with types and values, time) or an error (any reported error
/// will do: the corpus says its messages are descriptive, not normative).
/// </summary>
public sealed class LineProtocolCorpusTests(ITestOutputHelper output)
{
    /// <summary>
    /// Cases where Plexus deliberately differs from the corpus, each with its reason (also in
    /// docs/ingest/line-protocol.md). Keyed by the corpus case key.
    /// </summary>
    private static readonly Dictionary<string, string> DeliberateDifferences = new()
    {
        ["2a6fa6f9c4bd199a093f88e94b542430"] = TimeTag,
        ["5f10c11304f37e8f65e1d9fc36c6fde3"] = TimeTag,
    };

    private const string TimeTag =
        "a tag named \"time\" is rejected (InfluxDB 1.x refuses it too): it would collide with the time column in queries";

    private const int ExpectedCaseCount = 6615;

    [Fact]
    public void Every_corpus_decode_case_matches_except_the_documented_differences()
    {
        using JsonDocument corpus = LoadCorpus();
        JsonElement cases = corpus.RootElement.GetProperty("decode");

        int total = 0;
        int passed = 0;
        var skipped = new List<string>();
        var failures = new List<string>();
        var batch = new PointBatch(16);
        var errors = new LineErrorSink();
        foreach (JsonProperty entry in cases.EnumerateObject())
        {
            total++;
            JsonElement input = entry.Value.GetProperty("input");
            JsonElement expected = entry.Value.GetProperty("output");
            string key = entry.Name;
            byte[] text = InputBytes(input.GetProperty("text"));

            if (DeliberateDifferences.TryGetValue(key, out string? why))
            {
                skipped.Add($"{key}: {why}");
                continue;
            }

            var options = new LineProtocolOptions(Precision(input.GetProperty("precision").GetString()!), input.GetProperty("defaultTime").GetInt64());
            string? failure = null;
            for (int run = 0; run < 2 && failure is null; run++)
            {
                // Twice into the same batch: state left by one parse must not change the next.
                batch.Reset();
                errors.Reset();
                LineProtocolParser.Parse(text, 1, options, batch, errors);
                failure = Compare(expected, batch, errors);
            }

            if (failure is null)
            {
                passed++;
            }
            else
            {
                failures.Add($"{key} {Show(text)}: {failure}");
            }
        }

        output.WriteLine($"corpus decode cases: {total}, passed: {passed}, skipped (deliberate differences): {skipped.Count}, failed: {failures.Count}");
        foreach (string skip in skipped)
        {
            output.WriteLine($"skipped {skip}");
        }

        Assert.True(failures.Count == 0, $"{failures.Count} corpus cases failed:\n{string.Join('\n', failures.Take(50))}");
        Assert.Equal(ExpectedCaseCount, total);
        Assert.Equal(total - DeliberateDifferences.Count, passed);
    }

    [Fact]
    public void Every_deliberate_difference_names_a_case_that_exists()
    {
        using JsonDocument corpus = LoadCorpus();
        JsonElement cases = corpus.RootElement.GetProperty("decode");
        foreach (string key in DeliberateDifferences.Keys)
        {
            Assert.True(cases.TryGetProperty(key, out _), $"no corpus case {key}");
        }
    }

    private static string? Compare(JsonElement expected, PointBatch batch, LineErrorSink errors)
    {
        if (expected.TryGetProperty("error", out JsonElement error))
        {
            return errors.Count > 0 ? null : $"expected an error ({error.GetString()}), got {batch.Count} point(s)";
        }

        if (errors.Count > 0)
        {
            return $"unexpected error: {errors.Errors[0]}";
        }

        List<DecodedPoint> actual = DecodedPoint.From(batch);
        JsonElement result = expected.GetProperty("result");
        if (result.GetArrayLength() != actual.Count)
        {
            return $"expected {result.GetArrayLength()} point(s), got {actual.Count}";
        }

        int index = 0;
        foreach (JsonElement point in result.EnumerateArray())
        {
            string want = ExpectedText(point);
            string got = WithoutNegativeZero(actual[index] with { Line = 0 }).ToString();
            if (want != got)
            {
                return $"point {index}: expected {want}, got {got}";
            }

            index++;
        }

        return null;
    }

    /// <summary>
    /// The corpus records "-0." and "-0e-4" as 0 where Plexus keeps IEEE negative zero; the two are equal as
    /// numbers, which is what this compares.
    /// </summary>
    private static DecodedPoint WithoutNegativeZero(DecodedPoint point) => point with
    {
        Fields = [.. point.Fields.Select(f => f.Type == FieldType.Float && (double)f.Value == 0 ? f with { Value = 0.0 } : f)],
    };

    private static string ExpectedText(JsonElement point)
    {
        var tags = point.GetProperty("tags").EnumerateArray()
            .Select(t => (t.GetProperty("key").GetString()!, t.GetProperty("value").GetString()!))
            .ToList();
        var fields = point.GetProperty("fields").EnumerateArray().Select(f =>
        {
            string key = f.GetProperty("key").GetString()!;
            JsonProperty value = f.GetProperty("value").EnumerateObject().Single();
            return value.Name switch
            {
                "float" => new DecodedField(key, FieldType.Float, value.Value.GetDouble()),
                "int" => new DecodedField(key, FieldType.Integer, value.Value.GetInt64()),
                "uint" => new DecodedField(key, FieldType.UInteger, value.Value.GetUInt64()),
                "bool" => new DecodedField(key, FieldType.Boolean, value.Value.GetBoolean()),
                "string" => new DecodedField(key, FieldType.String, value.Value.GetString()!),
                _ => throw new InvalidDataException($"unknown field type {value.Name}"),
            };
        }).ToList();
        return new DecodedPoint(point.GetProperty("name").GetString()!, tags, fields, point.GetProperty("time").GetInt64(), 0).ToString();
    }

    private static byte[] InputBytes(JsonElement text)
        => text.ValueKind == JsonValueKind.String
            ? Encoding.UTF8.GetBytes(text.GetString()!)
            : Convert.FromBase64String(text.GetProperty("binary").GetString()!);

    private static TimePrecision Precision(string text) => text switch
    {
        "1ns" => TimePrecision.Nanoseconds,
        "1µs" => TimePrecision.Microseconds,
        "1ms" => TimePrecision.Milliseconds,
        "1s" => TimePrecision.Seconds,
        _ => throw new InvalidDataException($"unknown precision {text}"),
    };

    private static string Show(byte[] text)
    {
        string shown = JsonSerializer.Serialize(Encoding.UTF8.GetString(text));
        return shown.Length > 160 ? shown[..160] + "…" : shown;
    }

    private static JsonDocument LoadCorpus()
        => JsonDocument.Parse(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Corpus", "corpus.json")));
}
