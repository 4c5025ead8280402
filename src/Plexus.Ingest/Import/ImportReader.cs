using System.Text;
using Plexus.Core;
using Plexus.Ingest.LineProtocol;

namespace Plexus.Ingest.Import;

/// <summary>
/// Reads an import's body as it streams in and decodes it into batches of points: one line (or CSV record) in
/// memory at a time, each row through its format's decoder, a refused row reported with its row number and the
/// decoder's error while the rows around it go on. Parquet is read by the server as CSV (the engine reads the file).
/// </summary>
public sealed class ImportReader
{
    private readonly ImportFormat _format;
    private readonly ImportLineReader _lines;
    private readonly string? _measurement;
    private readonly string? _timeColumn;
    private readonly IReadOnlyCollection<string>? _tagColumns;
    private readonly LineProtocolOptions _lineProtocol;
    private readonly List<CsvCell> _cells = [];
    private readonly LineErrorSink _lineErrors = new(1);
    private CsvPointDecoder? _csv;
    private readonly JsonLinesPointDecoder? _json;

    /// <param name="measurement">The measurement every row goes to; null for line protocol, whose lines name theirs.</param>
    public ImportReader(ImportFormat format, Stream body, string? measurement, int maxLineBytes, LineProtocolOptions lineProtocol, string? timeColumn = null, IReadOnlyCollection<string>? tagColumns = null)
    {
        if (format != ImportFormat.LineProtocol && string.IsNullOrEmpty(measurement))
        {
            throw new ArgumentException("CSV and JSON lines imports need a measurement.", nameof(measurement));
        }

        _format = format == ImportFormat.Parquet ? ImportFormat.Csv : format;
        _lines = new ImportLineReader(body, maxLineBytes);
        _measurement = measurement;
        _timeColumn = timeColumn;
        _tagColumns = tagColumns;
        _lineProtocol = lineProtocol;
        if (_format == ImportFormat.JsonLines)
        {
            _json = new JsonLinesPointDecoder(measurement!);
        }
    }

    /// <summary>Data rows read so far (good and refused; the CSV header, blank and comment lines not counted).</summary>
    public long Rows { get; private set; }

    public long BytesRead => _lines.BytesRead;

    /// <summary>
    /// Adds the next rows' points to <paramref name="batch"/> until it holds <paramref name="maxPoints"/> or the input
    /// ends; refused rows go to <paramref name="errors"/>. False once the input has ended.
    /// </summary>
    /// <exception cref="ImportFramingException">The input cannot be read on: a line past the limit, a CSV header that does not read, a quoted cell never closed.</exception>
    public async ValueTask<bool> ReadAsync(PointBatch batch, int maxPoints, ImportErrors errors, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(errors);
        while (batch.Count < maxPoints)
        {
            if (await _lines.ReadLineAsync(cancellationToken) is not { } line)
            {
                return false;
            }

            int lineNumber = _lines.LineNumber;
            if (line.Span.Trim(" \t"u8).IsEmpty)
            {
                continue;
            }

            switch (_format)
            {
                case ImportFormat.LineProtocol:
                    if (line.Span.TrimStart(" \t"u8).StartsWith("#"u8))
                    {
                        continue;
                    }

                    Rows++;
                    _lineErrors.Reset();
                    LineProtocolParser.Parse(line.Span, lineNumber, _lineProtocol, batch, _lineErrors);
                    if (_lineErrors.Count > 0)
                    {
                        errors.Add(Rows, _lineErrors.First);
                    }

                    break;
                case ImportFormat.JsonLines:
                    Rows++;
                    if (!_json!.TryDecode(line.Span, lineNumber, batch, out var jsonError))
                    {
                        errors.Add(Rows, jsonError);
                    }

                    break;
                default:
                    await ReadCsvRecordAsync(Encoding.UTF8.GetString(line.Span), lineNumber, batch, errors, cancellationToken);
                    break;
            }
        }

        return true;
    }

    private async ValueTask ReadCsvRecordAsync(string text, int lineNumber, PointBatch batch, ImportErrors errors, CancellationToken cancellationToken)
    {
        try
        {
            // A quoted cell may hold newlines: the record goes on over the next lines, within the same length limit.
            while (!CsvCells.TrySplit(text, _cells))
            {
                if (await _lines.ReadLineAsync(cancellationToken) is not { } next)
                {
                    throw new ImportFramingException(lineNumber, $"line {lineNumber}: a quoted cell is never closed; nothing after it could be read");
                }

                text += "\n" + Encoding.UTF8.GetString(next.Span);
                if (text.Length > 1 << 24)
                {
                    throw new ImportFramingException(lineNumber, $"line {lineNumber}: a quoted cell is never closed within 16 MB; nothing after it could be read");
                }
            }
        }
        catch (FormatException malformed) when (_csv is not null)
        {
            Rows++;
            errors.Add(Rows, new IngestError(IngestErrorKind.Syntax, null, lineNumber, malformed.Message));
            return;
        }
        catch (FormatException malformed)
        {
            throw new ImportFramingException(lineNumber, $"line {lineNumber} (the header): {malformed.Message}");
        }

        if (_csv is null)
        {
            if (!CsvPointDecoder.TryCreate(_measurement!, _cells, _timeColumn, _tagColumns, out _csv, out var headerError))
            {
                throw new ImportFramingException(lineNumber, $"line {lineNumber} (the header): {headerError.Reason}");
            }

            return;
        }

        Rows++;
        if (!_csv.TryDecode(_cells, lineNumber, batch, out var error))
        {
            errors.Add(Rows, error);
        }
    }
}
