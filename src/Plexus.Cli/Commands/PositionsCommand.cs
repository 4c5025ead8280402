using System.CommandLine;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Plexus.Cli.Client;

namespace Plexus.Cli.Commands;

/// <summary>`plexus positions sources add|list|remove`: measurements that feed main.device_positions (docs/geo.md#position-sources).</summary>
internal static class PositionsCommand
{
    private const string ApiPath = "api/v1/position-sources";

    private static readonly string[] OptionalColumns = ["alt", "speed", "heading"];

    public static Command Create()
    {
        var sources = new Command("sources", "Declare which measurements carry positions (they feed main.device_positions, tracks and stops)");
        sources.Subcommands.Add(Add());
        sources.Subcommands.Add(List());
        sources.Subcommands.Add(Remove());
        var command = new Command("positions", "Device positions: where they come from");
        command.Subcommands.Add(sources);
        return command;
    }

    private static Command Add()
    {
        var source = new Argument<string>("source") { Description = "namespace.measurement, e.g. fleet.readings (no dot: namespace main)" };
        var lat = new Option<string>("--lat") { Description = "The latitude column (degrees)", Required = true };
        var lon = new Option<string>("--lon") { Description = "The longitude column (degrees)", Required = true };
        var alt = new Option<string?>("--alt") { Description = "The altitude column, if any" };
        var speed = new Option<string?>("--speed") { Description = "The speed column, if any" };
        var heading = new Option<string?>("--heading") { Description = "The heading column, if any" };
        var device = new Option<string?>("--device") { Description = "The column that holds the device key (default: the server's --device-tag for the namespace)" };
        var command = new Command("add", "Declare (or replace) a position source") { source, lat, lon, alt, speed, heading, device };
        return CommandSupport.WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            var (ns, measurement) = Split(parse.GetValue(source)!);
            var body = new JsonObject
            {
                ["namespace"] = ns,
                ["measurement"] = measurement,
                ["lat"] = parse.GetValue(lat),
                ["lon"] = parse.GetValue(lon),
                ["alt"] = parse.GetValue(alt),
                ["speed"] = parse.GetValue(speed),
                ["heading"] = parse.GetValue(heading),
                ["device"] = parse.GetValue(device),
            };
            using var document = await CommandSupport.SendAsync(client, HttpMethod.Post, ApiPath, body.ToJsonString(), cancellationToken, ownBadRequest: true);
            var answer = document!.RootElement;
            await output.WriteLineAsync($"declared {answer.GetProperty("source").GetString()} (device column {answer.GetProperty("device").GetString()})");
            if (!answer.GetProperty("available").GetBoolean())
            {
                await error.WriteLineAsync($"not yet available: {answer.GetProperty("reason").GetString()}; its rows join main.device_positions once it has them");
            }
        });
    }

    private static Command List()
    {
        var command = new Command("list", "List position sources and whether main.device_positions includes them yet");
        return CommandSupport.WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            using var document = await CommandSupport.SendAsync(client, HttpMethod.Get, ApiPath, null, cancellationToken, ownBadRequest: true);
            var rows = document!.RootElement.GetProperty("sources").EnumerateArray().Select(s => new[]
            {
                s.GetProperty("source").GetString() ?? "",
                s.GetProperty("lat").GetString() ?? "",
                s.GetProperty("lon").GetString() ?? "",
                string.Join(',', OptionalColumns.Where(f => s.GetProperty(f).ValueKind == JsonValueKind.String).Select(f => $"{f}={s.GetProperty(f).GetString()}")),
                s.GetProperty("device").GetString() + (s.GetProperty("device_default").GetBoolean() ? " (default)" : ""),
                s.GetProperty("available").GetBoolean() ? "yes" : "not yet: " + s.GetProperty("reason").GetString(),
            }).ToList();
            string[] headers = ["SOURCE", "LAT", "LON", "OTHER", "DEVICE", "AVAILABLE"];
            int[] widths = headers.Select((h, i) => rows.Select(r => r[i].Length).Append(h.Length).Max()).ToArray();
            foreach (var row in rows.Prepend(headers))
            {
                await output.WriteLineAsync(string.Join("  ", row.Select((cell, i) => cell.PadRight(widths[i]))).TrimEnd());
            }

            await error.WriteLineAsync($"{rows.Count} position source{(rows.Count == 1 ? "" : "s")} (main.positions is always included)");
        });
    }

    private static Command Remove()
    {
        var source = new Argument<string>("source") { Description = "namespace.measurement, e.g. fleet.readings" };
        var command = new Command("remove", "Remove a position source: its rows leave main.device_positions (the data stays)") { source };
        return CommandSupport.WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            var (ns, measurement) = Split(parse.GetValue(source)!);
            using var document = await CommandSupport.SendAsync(client, HttpMethod.Delete, ApiPath + "/" + Uri.EscapeDataString(ns + "." + measurement), null, cancellationToken, ownBadRequest: true);
            await output.WriteLineAsync($"removed {ns}.{measurement}");
        });
    }

    private static (string Namespace, string Measurement) Split(string source)
    {
        int dot = source.IndexOf('.', StringComparison.Ordinal);
        return dot < 0 ? ("main", source) : (source[..dot], source[(dot + 1)..]);
    }
}
