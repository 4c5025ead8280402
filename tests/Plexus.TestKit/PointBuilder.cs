using System.Text;
using Plexus.Core;

namespace Plexus.TestKit;

/// <summary>Builds points into a batch without going through a decoder, for tests of what lies behind decoders.</summary>
public sealed class PointBuilder
{
    private readonly PointBatch _batch;
    private int _line;

    public PointBuilder(PointBatch? batch = null)
    {
        _batch = batch ?? new PointBatch();
    }

    public PointBatch Batch => _batch;

    public PointBuilder Point(string measurement, long time, (string Key, string Value)[]? tags = null, params (string Key, object Value)[] fields)
    {
        _batch.BeginPoint(Encoding.UTF8.GetBytes(measurement), ++_line);
        foreach (var (key, value) in tags ?? [])
        {
            _batch.AddTag(Text(key), Text(value));
        }

        foreach (var (key, value) in fields)
        {
            var k = Text(key);
            switch (value)
            {
                case double d: _batch.AddFloat(k, d); break;
                case long l: _batch.AddInteger(k, l); break;
                case int i: _batch.AddInteger(k, i); break;
                case ulong u: _batch.AddUInteger(k, u); break;
                case bool b: _batch.AddBoolean(k, b); break;
                case string s: _batch.AddString(k, Text(s)); break;
                default: throw new ArgumentException($"Unsupported field value {value}");
            }
        }

        _batch.EndPoint(time);
        return this;
    }

    private TextSlice Text(string s) => _batch.AppendText(Encoding.UTF8.GetBytes(s));
}
