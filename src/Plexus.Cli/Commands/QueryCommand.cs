using System.Buffers;
using System.CommandLine;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Plexus.Cli.Client;
using Plexus.Core;

namespace Plexus.Cli.Commands;

/// <summary>`plexus query`: runs one SQL statement on the server and prints the result as a table, CSV or JSON.</summary>
internal static class QueryCommand
{
    private const string TruncatedNote =
        "note: the result was truncated to the server's row or byte limit (--query-max-rows, --query-max-bytes); add a LIMIT or narrow the query";

    public static Command Create()
    {
        var sql = new Argument<string>("sql")
        {
            Description = "The SQL statement to run; '-' reads it from standard input",
        };
        var database = new Option<string?>("--db")
        {
            Description = "Default namespace for table names that do not name one",
        };
        var format = new Option<string>("--format")
        {
            Description = "Output format: table (aligned columns), csv (as the server sends it) or json (pretty-printed)",
            DefaultValueFactory = _ => "table",
        };
        format.AcceptOnlyFromAmong("table", "csv", "json");
        var url = ClientOptions.Url();
        var token = ClientOptions.Token();
        var caCertificate = ClientOptions.CaCertificate();

        var command = new Command("query", "Run a SQL query on the server and print the result")
        {
            sql, database, format, url, token, caCertificate,
        };
        command.SetAction(async (ParseResult parse, CancellationToken invocationToken) =>
        {
            using var termination = CliConsole.CancelOnTermination(invocationToken);
            var cancellationToken = termination.Token;
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            try
            {
                string statement = await ReadStatementAsync(parse.GetValue(sql) ?? "", cancellationToken);
                using var client = PlexusApiClient.Create(parse.GetValue(url), parse.GetValue(token), caCertificate: parse.GetValue(caCertificate));
                await RunAsync(client, statement, parse.GetValue(database), parse.GetValue(format) ?? "table", output, error, cancellationToken);
                return 0;
            }
            catch (CliException e)
            {
                await error.WriteLineAsync($"error: {e.Message}");
                return e.ExitCode;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                await error.WriteLineAsync("cancelled");
                return 130;
            }
        });
        return command;
    }

    private static async Task<string> ReadStatementAsync(string argument, CancellationToken cancellationToken)
    {
        string statement = argument;
        if (argument == "-")
        {
            using var reader = new StreamReader(CliConsole.OpenStandardInput(), Encoding.UTF8);
            statement = await reader.ReadToEndAsync(cancellationToken);
        }

        statement = statement.Trim();
        return statement.Length > 0 ? statement : throw new CliException("no SQL given: pass a statement, or '-' to read one from standard input");
    }

    private static async Task RunAsync(
        PlexusApiClient client, string statement, string? database, string format, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/v1/sql") { Content = RequestBody(statement, database) };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(format == "csv" ? "text/csv" : "application/json"));
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw await client.FailureAsync(response, cancellationToken);
        }

        // CSV has no place for it in the data, so the server says it in a trailer after the rows (a header from
        // servers that buffered the answer); tell the person on stderr.
        bool truncated = IsTrue(response.Headers, "X-Plexus-Truncated");
        if (format == "csv")
        {
            // Passed through as it streams in: a large export never sits in memory.
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            using var reader = new StreamReader(body, Encoding.UTF8);
            var buffer = new char[16 * 1024];
            int read;
            while ((read = await reader.ReadAsync(buffer, cancellationToken)) > 0)
            {
                await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            }

            await output.FlushAsync(cancellationToken);
            if (truncated || IsTrue(response.TrailingHeaders, "X-Plexus-Truncated"))
            {
                await error.WriteLineAsync(TruncatedNote);
            }

            if (response.TrailingHeaders.TryGetValues("X-Plexus-Error", out var failure))
            {
                await error.WriteLineAsync("the query failed after these rows: " + string.Join(" ", failure));
            }

            return;
        }

        JsonDocument document;
        await using (var body = await response.Content.ReadAsStreamAsync(cancellationToken))
        {
            try
            {
                document = await JsonDocument.ParseAsync(body, cancellationToken: cancellationToken);
            }
            catch (JsonException e)
            {
                throw new CliException($"the server's answer is not JSON: {e.Message}", e);
            }
        }

        using (document)
        {
            if (format == "json")
            {
                await output.WriteLineAsync(PrettyPrint(document.RootElement));
                if (truncated || (document.RootElement.ValueKind == JsonValueKind.Object
                    && document.RootElement.TryGetProperty("truncated", out var flag) && flag.ValueKind == JsonValueKind.True))
                {
                    await error.WriteLineAsync(TruncatedNote);
                }

                return;
            }

            var table = QueryResultTable.Parse(document.RootElement);
            if (CliConsole.IsTerminal(output))
            {
                table.WriteTable(CliConsole.CreateAnsiConsole(output));
            }
            else
            {
                table.WritePlain(output);
            }

            await output.FlushAsync(cancellationToken);
            if (document.RootElement.TryGetProperty("error", out var failure) && failure.ValueKind == JsonValueKind.Object
                && failure.TryGetProperty("message", out var message))
            {
                await error.WriteLineAsync("the query failed after these rows: " + message.GetString());
            }
        }
    }

    private static bool IsTrue(System.Net.Http.Headers.HttpHeaders headers, string name) =>
        headers.TryGetValues(name, out var values) && values.Any(v => v.Equals("true", StringComparison.OrdinalIgnoreCase));

    private static ByteArrayContent RequestBody(string statement, string? database)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("sql", statement);
            if (!string.IsNullOrEmpty(database))
            {
                json.WriteString("db", database);
            }

            json.WriteEndObject();
        }

        var content = new ByteArrayContent(buffer.WrittenSpan.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        return content;
    }

    private static string PrettyPrint(JsonElement root)
    {
        var buffer = new ArrayBufferWriter<byte>();
        // Relaxed escaping keeps non-ASCII text (device names, units like °C) readable instead of \uXXXX.
        using (var json = new Utf8JsonWriter(buffer, ReadableJson.Indented))
        {
            root.WriteTo(json);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
