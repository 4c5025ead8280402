using System.Buffers;
using System.CommandLine;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Plexus.Cli.Client;
using Plexus.Core;

namespace Plexus.Cli.Commands;

/// <summary>What the client commands (devices, assets, geofences, tokens) share: running against a server, requests, output.</summary>
internal static class CommandSupport
{
    internal delegate Task ClientAction(ParseResult parse, PlexusApiClient client, TextWriter output, TextWriter error, CancellationToken cancellationToken);

    /// <summary>Adds --url, --token and --ca-cert to the command and runs the action with a client; a <see cref="CliException"/> becomes its exit code.</summary>
    /// <param name="timeout">Longest a request may take (<see cref="PlexusApiClient.RequestTimeout"/> when null).</param>
    internal static Command WithClient(Command command, ClientAction action, TimeSpan? timeout = null)
    {
        var url = ClientOptions.Url();
        var token = ClientOptions.Token();
        var caCertificate = ClientOptions.CaCertificate();
        command.Options.Add(url);
        command.Options.Add(token);
        command.Options.Add(caCertificate);
        command.SetAction(async (ParseResult parse, CancellationToken invocationToken) =>
        {
            using var termination = CliConsole.CancelOnTermination(invocationToken);
            var error = parse.InvocationConfiguration.Error;
            try
            {
                using var client = PlexusApiClient.Create(parse.GetValue(url), parse.GetValue(token), caCertificate: parse.GetValue(caCertificate), timeout: timeout);
                await action(parse, client, parse.InvocationConfiguration.Output, error, termination.Token);
                return 0;
            }
            catch (CliException e)
            {
                await error.WriteLineAsync($"error: {e.Message}");
                return e.ExitCode;
            }
            catch (OperationCanceledException) when (termination.Token.IsCancellationRequested)
            {
                await error.WriteLineAsync("cancelled");
                return 130;
            }
        });
        return command;
    }

    /// <summary>Sends a request; a JSON answer is returned (null for 204), an error becomes a <see cref="CliException"/>.</summary>
    internal static async Task<JsonDocument?> SendAsync(PlexusApiClient client, HttpMethod method, string path, string? body, CancellationToken cancellationToken, string contentType = "application/json", bool ownBadRequest = false)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, new MediaTypeHeaderValue(contentType));
        }

        return await SendAsync(client, request, cancellationToken, ownBadRequest);
    }

    /// <param name="ownBadRequest">The endpoint answers 400 "invalid" with a message about the resource itself (geofences).</param>
    internal static async Task<JsonDocument?> SendAsync(PlexusApiClient client, HttpRequestMessage request, CancellationToken cancellationToken, bool ownBadRequest = false)
    {
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            // The registry's own 404/409 (and 400 where it says so) carry a message about the resource; the generic one would blame the address.
            if (response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Conflict
                || (ownBadRequest && response.StatusCode == HttpStatusCode.BadRequest))
            {
                var problem = await PlexusApiClient.ReadErrorAsync(response, cancellationToken);
                throw problem.Code is "not_found" or "conflict" || (ownBadRequest && problem.Code == "invalid")
                    ? new CliException($"{(int)response.StatusCode} {problem.Code.Replace('_', ' ')}: {problem.Message}")
                    : new CliException($"{(int)response.StatusCode} {response.ReasonPhrase}: {problem.Message ?? "no details"} (is {client.DisplayAddress} a Plexus server?)");
            }

            throw await client.FailureAsync(response, cancellationToken);
        }

        if (response.StatusCode == HttpStatusCode.NoContent)
        {
            return null;
        }

        try
        {
            return JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        }
        catch (JsonException e)
        {
            throw new CliException($"the server's answer is not JSON: {e.Message}", e);
        }
    }

    internal static Option<string> FormatOption()
    {
        var format = new Option<string>("--format")
        {
            Description = "Output format: table or json",
            DefaultValueFactory = _ => "table",
        };
        format.AcceptOnlyFromAmong("table", "json");
        return format;
    }

    internal static Option<string[]> TagOption(string description) => new("--tag")
    {
        Description = description,
        Arity = ArgumentArity.ZeroOrMore,
        AllowMultipleArgumentsPerToken = false,
    };

    /// <summary>The --name, --type, --tag and --parent options of the registry commands (devices, assets).</summary>
    internal static (Option<string?> Name, Option<string?> Type, Option<string[]> Tags, Option<string?> Parent) MetadataOptions(string typeDescription, string parentDescription) =>
        (new Option<string?>("--name") { Description = "A display name" },
         new Option<string?>("--type") { Description = typeDescription },
         TagOption("A tag as key=value; repeat for several"),
         new Option<string?>("--parent") { Description = parentDescription });

    /// <param name="example">A tag shown in the error message, e.g. fleet=East.</param>
    internal static List<KeyValuePair<string, string>>? ParseTags(string[]? tags, string example)
    {
        if (tags is null || tags.Length == 0)
        {
            return null;
        }

        var parsed = new List<KeyValuePair<string, string>>();
        foreach (string tag in tags)
        {
            int equals = tag.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new CliException($"--tag \"{tag}\" is not key=value, e.g. --tag {example}");
            }

            parsed.Add(new KeyValuePair<string, string>(tag[..equals], tag[(equals + 1)..]));
        }

        return parsed;
    }

    /// <summary>The POST body of a new registry entry (device or asset); what is not given is left out.</summary>
    /// <param name="more">Writes the properties only one kind of entry has (a device's measurements).</param>
    internal static string NewEntryJson(string? id, string? name, string? type, string? parent, List<KeyValuePair<string, string>>? tags, Action<Utf8JsonWriter>? more = null) => Json(json =>
    {
        json.WriteString("id", id);
        WriteOptional(json, "name", name);
        WriteOptional(json, "type", type);
        WriteOptional(json, "parent", parent);
        WriteTags(json, tags);
        more?.Invoke(json);
    });

    /// <summary>The PATCH body of a metadata change: only what was given changes; clearing sends a null parent or no tags.</summary>
    internal static string ChangesJson(string? name, string? type, string? parent, bool clearParent, List<KeyValuePair<string, string>>? tags, bool clearTags, Action<Utf8JsonWriter>? more = null) => Json(json =>
    {
        more?.Invoke(json);
        WriteOptional(json, "name", name);
        WriteOptional(json, "type", type);
        if (clearParent)
        {
            json.WriteNull("parent");
        }
        else
        {
            WriteOptional(json, "parent", parent);
        }

        WriteTags(json, clearTags ? [] : tags);
    });

    private static void WriteOptional(Utf8JsonWriter json, string name, string? value)
    {
        if (value is not null)
        {
            json.WriteString(name, value);
        }
    }

    private static void WriteTags(Utf8JsonWriter json, List<KeyValuePair<string, string>>? tags)
    {
        if (tags is null)
        {
            return;
        }

        json.WritePropertyName("tags");
        json.WriteStartObject();
        foreach (var (key, value) in tags)
        {
            json.WriteString(key, value);
        }

        json.WriteEndObject();
    }

    /// <summary>A JSON object written by <paramref name="body"/>, as text.</summary>
    /// <summary>
    /// Refuses a number outside [min, max] as a usage error. A value that is not a number at all is left to the parser's
    /// own error: reading it here would throw out of the parser with a stack trace.
    /// </summary>
    internal static void RequireRange(Option<int> option, int min, int max)
    {
        option.Validators.Add(result =>
        {
            if (result.Tokens.Count == 1 && !int.TryParse(result.Tokens[0].Value, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out _))
            {
                return;
            }

            int value = result.GetValueOrDefault<int>();
            if (value < min || value > max)
            {
                result.AddError(max == int.MaxValue ? $"{option.Name} must be at least {min}" : $"{option.Name} must be between {min} and {max}");
            }
        });
    }

    internal static string Json(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            body(json);
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    internal static string Pretty(JsonElement root)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, ReadableJson.Indented))
        {
            root.WriteTo(json);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Prints rows under headers in columns two spaces apart, each as wide as its widest cell.</summary>
    internal static async Task WriteTableAsync(TextWriter output, string[] headers, List<string[]> rows)
    {
        int[] widths = headers.Select((h, i) => rows.Select(r => r[i].Length).Append(h.Length).Max()).ToArray();
        foreach (var row in rows.Prepend(headers))
        {
            await output.WriteLineAsync(string.Join("  ", row.Select((cell, i) => cell.PadRight(widths[i]))).TrimEnd());
        }
    }

    /// <summary>Prints a page of registry entries: the JSON answer, or a table with "N of total" on standard error.</summary>
    internal static async Task WriteEntriesPageAsync(JsonElement root, string? format, string property, string noun, TextWriter output, TextWriter error)
    {
        if (format == "json")
        {
            await output.WriteLineAsync(Pretty(root));
            return;
        }

        var entries = root.GetProperty(property).EnumerateArray().ToList();
        await WriteEntriesTableAsync(output, entries);
        int total = root.GetProperty("total").GetInt32();
        await error.WriteLineAsync($"{entries.Count} of {total} {noun}{(total == 1 ? "" : "s")}");
    }

    /// <summary>The table of registry entries (devices or assets): id, name, type, tags, parent.</summary>
    private static Task WriteEntriesTableAsync(TextWriter output, List<JsonElement> entries) =>
        WriteTableAsync(output, ["ID", "NAME", "TYPE", "TAGS", "PARENT"], entries.Select(e => new[]
        {
            e.GetProperty("id").GetString() ?? "",
            e.GetProperty("name").GetString() ?? "",
            e.GetProperty("type").GetString() ?? "",
            string.Join(',', e.GetProperty("tags").EnumerateObject().Select(t => t.Name + "=" + t.Value.GetString())),
            e.GetProperty("parent").GetString() ?? "",
        }).ToList());
}
