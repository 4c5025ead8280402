using Plexus.Core;

namespace Plexus.Ingest.Tests.TestSupport;

/// <summary>Builds expected points for table tests: <c>Expect.Point("cpu").Tag("host", "a").Float("v", 1).At(5)</c>.</summary>
public sealed class ExpectedPoint
{
    private readonly List<(string Key, string Value)> _tags = [];
    private readonly List<DecodedField> _fields = [];
    private long _timestamp = Decode.DefaultTime;

    private ExpectedPoint(string measurement) => Measurement = measurement;

    public string Measurement { get; }

    public static ExpectedPoint Point(string measurement) => new(measurement);

    public ExpectedPoint Tag(string key, string value)
    {
        _tags.Add((key, value));
        return this;
    }

    public ExpectedPoint Float(string key, double value) => Field(key, FieldType.Float, value);

    public ExpectedPoint Integer(string key, long value) => Field(key, FieldType.Integer, value);

    public ExpectedPoint UInteger(string key, ulong value) => Field(key, FieldType.UInteger, value);

    public ExpectedPoint Boolean(string key, bool value) => Field(key, FieldType.Boolean, value);

    public ExpectedPoint String(string key, string value) => Field(key, FieldType.String, value);

    public ExpectedPoint At(long timestamp)
    {
        _timestamp = timestamp;
        return this;
    }

    private ExpectedPoint Field(string key, FieldType type, object value)
    {
        _fields.Add(new DecodedField(key, type, value));
        return this;
    }

    public DecodedPoint ToDecoded(int line) => new(Measurement, _tags, _fields, _timestamp, line);

    /// <summary>Compares everything but the line number, which table tests rarely care about.</summary>
    public void AssertMatches(DecodedPoint actual) => Assert.Equal(ToDecoded(actual.Line).ToString(), actual.ToString());
}
