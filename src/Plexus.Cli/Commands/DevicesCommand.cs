using System.CommandLine;
using System.Net.Http.Headers;
using System.Text;
using Plexus.Cli.Client;
using static Plexus.Cli.Commands.CommandSupport;

namespace Plexus.Cli.Commands;

/// <summary>`plexus devices add|list|show|update|remove|rotate-token|import|desire|command|cert`: the device registry (docs/devices.md).</summary>
internal static class DevicesCommand
{
    private const string TokenNote = "note: the token is shown only now; the server keeps only its hash. Give it to the device as its MQTT password (user name = device id).";

    public static Command Create()
    {
        var command = new Command("devices", "Manage the device registry: register devices, list them, rotate their tokens");
        command.Subcommands.Add(Add());
        command.Subcommands.Add(List());
        command.Subcommands.Add(Show());
        command.Subcommands.Add(Update());
        command.Subcommands.Add(Remove());
        command.Subcommands.Add(RotateToken());
        command.Subcommands.Add(Import());
        command.Subcommands.Add(DeviceTwinCommands.Desire());
        command.Subcommands.Add(DeviceTwinCommands.SendCommand());
        command.Subcommands.Add(DeviceCertificatesCommand.Create());
        return command;
    }

    /// <summary>Registers every device of a CSV or JSON file through the bulk endpoint and prints each new device's token once.</summary>
    private static Command Import()
    {
        var file = new Argument<string>("file") { Description = "A .csv file (header id,name,type,parent,tags,measurements,tag:<key>...) or a .json array of devices" };
        var outFile = new Option<string?>("--out") { Description = "Write id,token of the new devices to this CSV file (mode 0600) instead of printing the tokens" };
        var command = new Command("import", "Register the devices of a CSV or JSON file; prints each new device's token once") { file, outFile };
        return WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            string path = parse.GetValue(file)!;
            string text;
            try
            {
                text = await File.ReadAllTextAsync(path, cancellationToken);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliException($"cannot read {path}: {e.Message}", e);
            }

            bool json = path.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
                || (!path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) && text.TrimStart().StartsWith('['));
            using var request = new HttpRequestMessage(HttpMethod.Post, "api/v1/devices/bulk")
            {
                Content = new StringContent(text, Encoding.UTF8, new MediaTypeHeaderValue(json ? "application/json" : "text/csv")),
            };
            using var document = await SendAsync(client, request, cancellationToken);
            var root = document!.RootElement;
            var created = new List<(string Id, string Token)>();
            int failed = 0;
            foreach (var result in root.GetProperty("results").EnumerateArray())
            {
                if (result.GetProperty("status").GetString() == "created")
                {
                    var device = result.GetProperty("device");
                    created.Add((device.GetProperty("id").GetString()!, device.GetProperty("token").GetString()!));
                    continue;
                }

                failed++;
                string where = result.TryGetProperty("line", out var line) ? $"line {line.GetInt32()}" : $"item {result.GetProperty("index").GetInt32() + 1}";
                string field = result.TryGetProperty("field", out var f) ? $" ({f.GetString()})" : "";
                await error.WriteLineAsync($"{path}: {where}{field}: {result.GetProperty("message").GetString()}");
            }

            string? outPath = parse.GetValue(outFile);
            if (outPath is not null)
            {
                await WriteTokensFileAsync(outPath, created, cancellationToken);
                await error.WriteLineAsync($"wrote the tokens of {created.Count} new device{(created.Count == 1 ? "" : "s")} to {outPath}; keep it secret, the server keeps only hashes");
            }
            else
            {
                foreach (var (id, token) in created)
                {
                    await output.WriteLineAsync($"{id}\t{token}");
                }

                if (created.Count > 0)
                {
                    await error.WriteLineAsync("note: the tokens are shown only now; the server keeps only their hashes.");
                }
            }

            await error.WriteLineAsync($"{created.Count} created, {failed} failed");
            if (failed > 0)
            {
                throw new CliException($"{failed} device{(failed == 1 ? "" : "s")} of {path} not registered (see above)");
            }
        });
    }

    private static async Task WriteTokensFileAsync(string path, List<(string Id, string Token)> created, CancellationToken cancellationToken)
    {
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            await using var writer = new StreamWriter(path, new UTF8Encoding(false), options);
            await writer.WriteLineAsync("id,token");
            foreach (var (id, token) in created)
            {
                // Ids and tokens hold no commas or quotes (their character sets exclude them).
                await writer.WriteLineAsync($"{id},{token}".AsMemory(), cancellationToken);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"cannot write {path}: {e.Message}; the devices are registered, rotate their tokens to get new ones", e);
        }
    }

    private static Command Add()
    {
        var id = IdArgument();
        var (name, type, tags, parent) = MetadataOptions();
        var measurements = MeasurementOption("A measurement of namespace main the device may write; repeat for several. Without it the device may write any measurement");
        var certificate = DeviceCertificatesCommand.CertOption();
        var command = new Command("add", "Register a device and print its token (shown once)") { id, name, type, tags, parent, measurements, certificate };
        return WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            string[]? allowed = parse.GetValue(measurements) is { Length: > 0 } given ? given : null;
            string body = NewEntryJson(parse.GetValue(id), parse.GetValue(name), parse.GetValue(type), parse.GetValue(parent), ParseTags(parse.GetValue(tags)),
                json => WriteMeasurements(json, allowed));

            // The certificate file is read before the device is registered, so a wrong path registers nothing.
            string? certificateBody = parse.GetValue(certificate) is { } file ? DeviceCertificatesCommand.AddBody(file) : null;
            using var document = await SendAsync(client, HttpMethod.Post, "api/v1/devices", body, cancellationToken);
            await output.WriteLineAsync(Pretty(document!.RootElement));
            await error.WriteLineAsync(TokenNote);
            if (certificateBody is not null)
            {
                string deviceId = parse.GetValue(id)!;
                try
                {
                    using var added = await SendAsync(client, HttpMethod.Post, DeviceCertificatesCommand.PathOf(deviceId), certificateBody, cancellationToken);
                    await error.WriteLineAsync($"certificate {added!.RootElement.GetProperty("thumbprint").GetString()} registered: the device may connect to the MQTT TLS listener with it");
                }
                catch (CliException refused)
                {
                    throw new CliException($"device {deviceId} is registered, but its certificate was refused: {refused.Message}; fix it and run `plexus devices cert add {deviceId} <pem>`", refused.ExitCode, refused);
                }
            }
        });
    }

    private static Command List()
    {
        var tags = TagOption("Only devices with this tag (key=value); repeat to require several");
        var limit = new Option<int?>("--limit") { Description = "At most this many devices (server default 100)" };
        var offset = new Option<int?>("--offset") { Description = "Skip this many devices first" };
        var format = FormatOption();
        var command = new Command("list", "List registered devices in id order") { tags, limit, offset, format };
        return WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            var query = new List<string>();
            foreach (var (key, value) in ParseTags(parse.GetValue(tags)) ?? [])
            {
                query.Add("tag=" + Uri.EscapeDataString(key + ":" + value));
            }

            if (parse.GetValue(limit) is { } l)
            {
                query.Add("limit=" + l.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            if (parse.GetValue(offset) is { } o)
            {
                query.Add("offset=" + o.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            string path = "api/v1/devices" + (query.Count > 0 ? "?" + string.Join('&', query) : "");
            using var document = await SendAsync(client, HttpMethod.Get, path, null, cancellationToken);
            await WriteEntriesPageAsync(document!.RootElement, parse.GetValue(format), "devices", "device", output, error);
        });
    }

    private static Command Show()
    {
        var id = IdArgument();
        var command = new Command("show", "Show one device's metadata") { id };
        return WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            using var document = await SendAsync(client, HttpMethod.Get, "api/v1/devices/" + Uri.EscapeDataString(parse.GetValue(id)!), null, cancellationToken);
            await output.WriteLineAsync(Pretty(document!.RootElement));
        });
    }

    private static Command Update()
    {
        var id = IdArgument();
        var (name, type, tags, parent) = MetadataOptions();
        tags.Description = "Replace the device's tags with these (key=value, repeatable)";
        var clearTags = new Option<bool>("--clear-tags") { Description = "Remove every tag" };
        var clearParent = new Option<bool>("--clear-parent") { Description = "Remove the parent" };
        var measurements = MeasurementOption("Replace the measurements the device may write with these (repeatable)");
        var anyMeasurement = new Option<bool>("--any-measurement") { Description = "Remove the allow-list: the device may write any measurement of main again" };
        var command = new Command("update", "Change a device's name, type, tags, parent or allowed measurements; what is not given stays") { id, name, type, tags, parent, clearTags, clearParent, measurements, anyMeasurement };
        return WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            var newTags = ParseTags(parse.GetValue(tags));
            string[]? allowed = parse.GetValue(measurements) is { Length: > 0 } given ? given : null;
            bool any = parse.GetValue(anyMeasurement);
            if (any && allowed is not null)
            {
                throw new CliException("--measurement and --any-measurement contradict each other; give one");
            }

            string body = ChangesJson(parse.GetValue(name), parse.GetValue(type), parse.GetValue(parent), parse.GetValue(clearParent), newTags, parse.GetValue(clearTags), json =>
            {
                if (any)
                {
                    json.WriteNull("measurements");
                }
                else
                {
                    WriteMeasurements(json, allowed);
                }
            });
            using var document = await SendAsync(client, HttpMethod.Patch, "api/v1/devices/" + Uri.EscapeDataString(parse.GetValue(id)!), body, cancellationToken);
            await output.WriteLineAsync(Pretty(document!.RootElement));
        });
    }

    private static Command Remove()
    {
        var id = IdArgument();
        var command = new Command("remove", "Remove a device; its token stops working at once (its stored data stays)") { id };
        return WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            string deviceId = parse.GetValue(id)!;
            using var document = await SendAsync(client, HttpMethod.Delete, "api/v1/devices/" + Uri.EscapeDataString(deviceId), null, cancellationToken);
            await output.WriteLineAsync($"removed {deviceId}");
        });
    }

    private static Command RotateToken()
    {
        var id = IdArgument();
        var command = new Command("rotate-token", "Give a device a new token (shown once); the old one stops working at once") { id };
        return WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            using var document = await SendAsync(client, HttpMethod.Post, "api/v1/devices/" + Uri.EscapeDataString(parse.GetValue(id)!) + "/rotate-token", null, cancellationToken);
            await output.WriteLineAsync(document!.RootElement.GetProperty("token").GetString());
            await error.WriteLineAsync(TokenNote);
        });
    }

    private static Option<string[]> MeasurementOption(string description) => new("--measurement")
    {
        Description = description,
        Arity = ArgumentArity.ZeroOrMore,
        AllowMultipleArgumentsPerToken = false,
    };

    private static void WriteMeasurements(System.Text.Json.Utf8JsonWriter json, string[]? measurements)
    {
        if (measurements is null)
        {
            return;
        }

        json.WriteStartArray("measurements");
        foreach (string measurement in measurements)
        {
            json.WriteStringValue(measurement);
        }

        json.WriteEndArray();
    }

    private static Argument<string> IdArgument() => new("id") { Description = "The device id: 1–128 letters, digits, '_', '-', '.', ':'" };

    private static (Option<string?> Name, Option<string?> Type, Option<string[]> Tags, Option<string?> Parent) MetadataOptions() =>
        CommandSupport.MetadataOptions("The kind of device, e.g. truck or thermostat", "The id of a registered device this one belongs to (a gateway)");

    private static List<KeyValuePair<string, string>>? ParseTags(string[]? tags) => CommandSupport.ParseTags(tags, "fleet=East");
}
