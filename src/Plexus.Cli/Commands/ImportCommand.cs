using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Plexus.Cli.Client;
using Plexus.Ingest.Import;

namespace Plexus.Cli.Commands;

/// <summary>
/// <c>plexus import &lt;file&gt; [--into namespace.measurement] [--format auto|csv|parquet|jsonl|lp]</c>: streams a file to a
/// running server's import endpoint with a progress bar, and reports the rows stored and the rows refused, each named
/// by row, line and column (docs/export-import.md).
/// </summary>
internal static class ImportCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("file") { Description = "The file to import (a .gz file is sent as it is and decompressed by the server)" };
        var into = new Option<string?>("--into")
        {
            Description = "namespace.measurement for CSV, JSON lines and Parquet; the namespace alone for line protocol (default main)",
        };
        var format = new Option<string>("--format") { Description = "auto (by the file's extension), csv, jsonl, lp or parquet", DefaultValueFactory = _ => "auto" };
        format.AcceptOnlyFromAmong("auto", "csv", "jsonl", "lp", "parquet");
        var timeColumn = new Option<string?>("--time-column") { Description = "CSV: the column that holds the time, when it is not \"time\"" };
        var tagColumns = new Option<string?>("--tag-columns") { Description = "CSV and Parquet: comma-separated columns that are tags (the others are fields)" };
        var precision = new Option<string>("--precision") { Description = "Line protocol: unit of its timestamps, ns, us, ms or s", DefaultValueFactory = _ => "ns" };
        precision.AcceptOnlyFromAmong("ns", "us", "ms", "s");
        var command = new Command("import", "Import a CSV, JSON-lines, line-protocol or Parquet file (as plexus export writes them) into a measurement")
        {
            file, into, format, timeColumn, tagColumns, precision,
        };
        return CommandSupport.WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            string path = parse.GetValue(file)!;
            string formatName = parse.GetValue(format) ?? "auto";
            var chosen = formatName == "auto" ? ImportFormats.FromFileName(path) : Parse(formatName);
            string target = parse.GetValue(into) ?? "main";
            if (chosen != ImportFormat.LineProtocol && !target.Contains('.', StringComparison.Ordinal))
            {
                throw new CliException($"a {chosen.Name()} file's rows name no measurement: give --into namespace.measurement, e.g. --into main.readings", exitCode: 1);
            }

            FileStream input;
            try
            {
                input = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, FileOptions.Asynchronous | FileOptions.SequentialScan);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliException($"cannot read {path}: {e.Message}", exitCode: 1);
            }

            await using var _ = input;
            var query = new List<string> { "format=" + chosen.Name(), "into=" + Uri.EscapeDataString(target), "precision=" + parse.GetValue(precision) };
            if (parse.GetValue(timeColumn) is { } time)
            {
                query.Add("time_column=" + Uri.EscapeDataString(time));
            }

            if (parse.GetValue(tagColumns) is { } tags)
            {
                query.Add("tag_columns=" + Uri.EscapeDataString(tags));
            }

            var clock = TimeProvider.System;
            long started = clock.GetTimestamp();
            bool terminal = CliConsole.IsTerminal(error);
            long nextReport = 0;
            long length = input.Length;
            var progress = new ProgressStream(input, sent =>
            {
                long now = clock.GetTimestamp();
                if (terminal && now >= nextReport)
                {
                    nextReport = now + (clock.TimestampFrequency / 2);
                    double seconds = Math.Max(clock.GetElapsedTime(started).TotalSeconds, 0.001);
                    error.Write(string.Create(CultureInfo.InvariantCulture, $"\r{Bar(sent, length)} {sent / 1048576.0:0.0} of {length / 1048576.0:0.0} MB, {sent / 1048576.0 / seconds:0.0} MB/s"));
                }
            });
            var content = new StreamContent(progress, 64 * 1024);
            content.Headers.ContentType = new MediaTypeHeaderValue(chosen == ImportFormat.Parquet ? "application/vnd.apache.parquet" : "text/plain");
            content.Headers.ContentLength = length;
            if (path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase))
            {
                content.Headers.ContentEncoding.Add("gzip");
            }

            using var request = new HttpRequestMessage(HttpMethod.Post, "api/v1/import?" + string.Join('&', query)) { Content = content };
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
            if (terminal)
            {
                await error.WriteLineAsync();
            }

            string text = await response.Content.ReadAsStringAsync(cancellationToken);
            JsonElement root;
            try
            {
                root = JsonDocument.Parse(text).RootElement;
            }
            catch (JsonException)
            {
                throw new CliException($"{(int)response.StatusCode} {response.ReasonPhrase}: the server's answer is not JSON");
            }

            if (!root.TryGetProperty("written", out var writtenElement))
            {
                string message = root.TryGetProperty("message", out var m) ? m.GetString() ?? "" : text;
                throw new CliException(response.StatusCode == HttpStatusCode.Unauthorized ? "401 unauthorized: pass --token or set PLEXUS_TOKEN" : $"{(int)response.StatusCode} {response.ReasonPhrase}: {message}");
            }

            long written = writtenElement.GetInt64();
            long rows = root.TryGetProperty("rows", out var rowsElement) ? rowsElement.GetInt64() : written;
            long rejected = root.TryGetProperty("rejected", out var rejectedElement) ? rejectedElement.GetInt64() : 0;
            if (root.TryGetProperty("errors", out var errors))
            {
                foreach (var refused in errors.EnumerateArray())
                {
                    await error.WriteLineAsync("  " + Describe(refused));
                }

                if (root.TryGetProperty("errors_truncated", out var truncated) && truncated.GetBoolean())
                {
                    await error.WriteLineAsync($"  … {rejected - errors.GetArrayLength()} more refused rows not listed");
                }
            }

            double elapsed = Math.Max(clock.GetElapsedTime(started).TotalSeconds, 0.001);
            string summary = string.Create(CultureInfo.InvariantCulture,
                $"imported {written} of {rows} rows into {target} in {elapsed:0.0} s ({written / elapsed:0} rows/s); {rejected} refused");
            if (!response.IsSuccessStatusCode)
            {
                string message = root.TryGetProperty("message", out var m) ? m.GetString() ?? "" : "";
                throw new CliException($"{(int)response.StatusCode} {response.ReasonPhrase}: {message} ({summary})", exitCode: 1);
            }

            await output.WriteLineAsync(summary);
            if (rejected > 0)
            {
                throw new CliException($"{rejected} rows were refused (listed above); the others are stored", exitCode: 2);
            }
        }, Timeout.InfiniteTimeSpan);
    }

    private static ImportFormat Parse(string name) => ImportFormats.TryParse(name, out var format) ? format : ImportFormat.LineProtocol;

    private static string Describe(JsonElement refused)
    {
        var where = new List<string>();
        if (refused.TryGetProperty("row", out var row))
        {
            where.Add("row " + row.GetInt64().ToString(CultureInfo.InvariantCulture));
        }

        if (refused.TryGetProperty("line", out var line))
        {
            where.Add("line " + line.GetInt64().ToString(CultureInfo.InvariantCulture));
        }

        if (refused.TryGetProperty("column", out var column))
        {
            where.Add("column " + column.GetString());
        }

        return string.Join(", ", where) + ": " + (refused.TryGetProperty("reason", out var reason) ? reason.GetString() : "");
    }

    private static string Bar(long sent, long length)
    {
        const int Width = 30;
        int filled = length <= 0 ? Width : (int)Math.Min(Width, sent * Width / length);
        return "[" + new string('#', filled) + new string('.', Width - filled) + "]";
    }

    /// <summary>Reports the bytes read so far as the request body is sent.</summary>
    private sealed class ProgressStream(Stream inner, Action<long> report) : Stream
    {
        private long _sent;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => inner.Length;

        public override long Position { get => _sent; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Counted(inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Counted(await inner.ReadAsync(buffer, cancellationToken));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private int Counted(int read)
        {
            _sent += read;
            report(_sent);
            return read;
        }
    }
}
