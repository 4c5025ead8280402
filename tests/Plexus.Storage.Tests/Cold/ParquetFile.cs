using Parquet;
using Parquet.Schema;

namespace Plexus.Storage.Tests.Cold;

/// <summary>Reads a cold file with Parquet.Net, a reader that shares no code with DuckDB: the file must be readable as it is.</summary>
/// <remarks>
/// Parquet.Net 6.1 decodes DELTA_BINARY_PACKED pages of INT64 columns, but its conversion to <see cref="DateTime"/> does not
/// take that encoding ("element type System.DateTime is not supported in DELTA_BINARY_PACKED"), so timestamp columns are
/// read as the INT64 nanoseconds they physically are, through a schema that names them so; their logical type is
/// checked separately (<see cref="TimestampColumns"/>). Nor does it decode decimals in DELTA_BINARY_PACKED, so a decimal
/// column of up to 18 digits is read as its INT64 unscaled values and scaled here.
/// </remarks>
internal static class ParquetFile
{
    /// <summary>The columns the file declares as timestamps, with their unit.</summary>
    public static async Task<Dictionary<string, string>> TimestampColumns(string path)
    {
        await using var reader = await ParquetReader.CreateAsync(path);
        return reader.Schema.GetDataFields().OfType<DateTimeDataField>().ToDictionary(f => f.Name, f => f.Unit.ToString());
    }

    public static async Task<Dictionary<string, List<object?>>> ReadAsync(string path)
    {
        await using var reader = await ParquetReader.CreateAsync(path);
        // A wide decimal (a 16-byte FIXED_LEN_BYTE_ARRAY, PLAIN) Parquet.Net reads as decimal itself.
        var scales = reader.Schema.GetDataFields().OfType<DecimalDataField>().Where(f => f.Precision <= 18).ToDictionary(f => f.Name, f => f.Scale);
        var schema = new ParquetSchema(reader.Schema.GetDataFields()
            .Select(f => f is DateTimeDataField || scales.ContainsKey(f.Name) ? new DataField<long?>(f.Name) : (Field)f));
        var fields = schema.GetDataFields();
        var columns = fields.ToDictionary(f => f.Name, _ => new List<object?>());
        for (int group = 0; group < reader.RowGroupCount; group++)
        {
            using var rowGroup = reader.OpenRowGroupReader(group);
            int rows = (int)rowGroup.RowCount;
            foreach (var field in fields)
            {
                var values = await ReadColumnAsync(rowGroup, field, rows);
                if (scales.TryGetValue(field.Name, out int scale))
                {
                    decimal unit = (decimal)Math.Pow(10, scale);
                    values = values.Select(v => v is long unscaled ? (object?)(unscaled / unit) : null);
                }

                columns[field.Name].AddRange(values);
            }
        }

        return columns;
    }

    private static async Task<IEnumerable<object?>> ReadColumnAsync(ParquetRowGroupReader rowGroup, DataField field, int rows)
    {
        if (field.ClrType == typeof(string) || field.ClrType == typeof(ReadOnlyMemory<char>))
        {
            var strings = new string?[rows];
            await rowGroup.ReadAsync(field, strings.AsMemory(), null);
            return strings;
        }

        return field.ClrType switch
        {
            var t when t == typeof(int) => await ReadValuesAsync<int>(rowGroup, field, rows),
            var t when t == typeof(long) => await ReadValuesAsync<long>(rowGroup, field, rows),
            var t when t == typeof(ulong) => await ReadValuesAsync<ulong>(rowGroup, field, rows),
            var t when t == typeof(double) => await ReadValuesAsync<double>(rowGroup, field, rows),
            var t when t == typeof(decimal) => await ReadValuesAsync<decimal>(rowGroup, field, rows),
            var t when t == typeof(bool) => await ReadValuesAsync<bool>(rowGroup, field, rows),
            var t when t == typeof(DateTime) => await ReadValuesAsync<DateTime>(rowGroup, field, rows),
            _ => throw new InvalidOperationException($"column {field.Name} has type {field.ClrType}, which the test does not read"),
        };
    }

    private static async Task<IEnumerable<object?>> ReadValuesAsync<T>(ParquetRowGroupReader rowGroup, DataField field, int rows)
        where T : struct
    {
        var values = new T?[rows];
        await rowGroup.ReadAsync(field, values.AsMemory(), null);
        return values.Select(v => v.HasValue ? (object?)v.Value : null);
    }
}
