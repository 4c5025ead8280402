using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Text;
using Plexus.Cli.Client;

namespace Plexus.Cli.Commands;

/// <summary>
/// <c>plexus export &lt;namespace.measurement&gt; [--from] [--to] [--where] --format csv|jsonl|lp|parquet [-o file]</c>:
/// one measurement's rows from a running server, streamed into a file or standard output (docs/export-import.md).
/// </summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var target = new Argument<string>("measurement") { Description = "namespace.measurement, e.g. main.readings" };
        var from = new Option<string?>("--from") { Description = "Rows at or after this time: 2026-01-02T03:04:05Z, 2026-01-02 or Unix nanoseconds" };
        var to = new Option<string?>("--to") { Description = "Rows before this time (same forms as --from)" };
        var where = new Option<string?>("--where") { Description = "Only rows whose tags match, e.g. \"device = 'truck_1'\" (the grammar of plexus delete: tags only, values in single quotes)" };
        var format = new Option<string>("--format") { Description = "csv, jsonl, lp (line protocol) or parquet", DefaultValueFactory = _ => "csv" };
        format.AcceptOnlyFromAmong("csv", "jsonl", "lp", "parquet");
        var outputFile = new Option<string?>("--output", "-o") { Description = "File to write (standard output when omitted; Parquet needs a file)" };
        var command = new Command("export", "Export a measurement's rows as CSV, JSON lines, line protocol or Parquet") { target, from, to, where, format, outputFile };
        return CommandSupport.WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            string formatName = parse.GetValue(format) ?? "csv";
            string? path = parse.GetValue(outputFile);
            if (path is null && formatName == "parquet")
            {
                throw new CliException("Parquet is binary: write it to a file with -o FILE", exitCode: 1);
            }

            string body = CommandSupport.Json(json =>
            {
                json.WriteString("measurement", parse.GetValue(target));
                json.WriteString("format", formatName);
                foreach (var (key, value) in (ReadOnlySpan<(string, string?)>)[("from", parse.GetValue(from)), ("to", parse.GetValue(to)), ("where", parse.GetValue(where))])
                {
                    if (value is not null)
                    {
                        json.WriteString(key, value);
                    }
                }
            });
            using var request = new HttpRequestMessage(HttpMethod.Post, "api/v1/export") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                var answer = await PlexusApiClient.ReadErrorAsync(response, cancellationToken);
                throw new CliException("404 not found: " + (answer.Message ?? "no such measurement"));
            }

            if (!response.IsSuccessStatusCode)
            {
                throw await client.FailureAsync(response, cancellationToken);
            }

            var time = TimeProvider.System;
            long started = time.GetTimestamp();
            bool terminal = CliConsole.IsTerminal(error);
            long nextReport = 0;
            long bytes = 0;
            long newlines = 0;
            bool text = formatName != "parquet";
            await using var source = await response.Content.ReadAsStreamAsync(cancellationToken);
            var file = path is null ? null : new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 64 * 1024, FileOptions.Asynchronous);
            try
            {
                var sink = file ?? (Stream)new TextWriterStream(output);
                var buffer = new byte[64 * 1024];
                int read;
                try
                {
                    while ((read = await source.ReadAsync(buffer, cancellationToken)) > 0)
                    {
                        await sink.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                        bytes += read;
                        if (text)
                        {
                            newlines += buffer.AsSpan(0, read).Count((byte)'\n');
                        }

                        long now = time.GetTimestamp();
                        if (terminal && now >= nextReport)
                        {
                            nextReport = now + (time.TimestampFrequency / 2);
                            await error.WriteAsync("\r" + Progress(text, Rows(formatName, newlines), bytes, time.GetElapsedTime(started)));
                        }
                    }
                }
                catch (Exception e) when (e is IOException or HttpRequestException)
                {
                    throw new CliException($"the export broke off after {bytes} bytes ({e.Message}): the server hit an error or went away{(path is null ? "" : $"; {path} is incomplete and was deleted")}");
                }

                await sink.FlushAsync(cancellationToken);
            }
            catch
            {
                if (file is not null)
                {
                    await file.DisposeAsync();
                    file = null;
                    File.Delete(path!);
                }

                throw;
            }
            finally
            {
                if (file is not null)
                {
                    await file.DisposeAsync();
                }
            }

            if (terminal)
            {
                await error.WriteAsync("\r");
            }

            string summary = Progress(text, Rows(formatName, newlines), bytes, time.GetElapsedTime(started)) + (path is null ? "" : $" to {path}");
            await (path is null ? error : output).WriteLineAsync("exported " + summary);
        }, Timeout.InfiniteTimeSpan);
    }

    private static long Rows(string format, long newlines) => format == "csv" ? Math.Max(0, newlines - 1) : newlines;

    private static string Progress(bool rowsKnown, long rows, long bytes, TimeSpan elapsed)
    {
        double seconds = Math.Max(elapsed.TotalSeconds, 0.001);
        return rowsKnown
            ? string.Create(CultureInfo.InvariantCulture, $"{rows} rows, {bytes / 1048576.0:0.0} MB in {seconds:0.0} s ({rows / seconds:0} rows/s)")
            : string.Create(CultureInfo.InvariantCulture, $"{bytes / 1048576.0:0.0} MB in {seconds:0.0} s");
    }

    /// <summary>Standard output as a stream of bytes, for an export without -o (the CLI's writers are text writers, which tests capture).</summary>
    private sealed class TextWriterStream(TextWriter writer) : Stream
    {
        private readonly Decoder _decoder = Encoding.UTF8.GetDecoder();
        private char[] _chars = new char[64 * 1024];

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            int needed = _decoder.GetCharCount(buffer, flush: false);
            if (needed > _chars.Length)
            {
                _chars = new char[needed];
            }

            int chars = _decoder.GetChars(buffer, _chars, flush: false);
            writer.Write(_chars, 0, chars);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override void Flush() => writer.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
