using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Plexus.Cli.Client;
using static Plexus.Cli.Commands.CommandSupport;

namespace Plexus.Cli.Commands;

/// <summary>`plexus geofences add|list|show|remove`: named geofences as GeoJSON (docs/geo.md#geofences).</summary>
internal static class GeofencesCommand
{
    private const string ApiPath = "api/v1/geofences";

    public static Command Create()
    {
        var command = new Command("geofences", "Manage named geofences (GeoJSON polygons and circles) used by inside_geofence() in SQL");
        command.Subcommands.Add(Add());
        command.Subcommands.Add(List());
        command.Subcommands.Add(Show());
        command.Subcommands.Add(Remove());
        return command;
    }

    private static Command Add()
    {
        var file = new Argument<FileInfo>("file") { Description = "A .geojson file: a Feature (Polygon, MultiPolygon, or Point with properties.radius_m) or a FeatureCollection of them" };
        var name = new Option<string?>("--name") { Description = "The geofence name (default: the Feature's properties.name or id); only for a single Feature" };
        var replace = new Option<bool>("--replace") { Description = "Replace a geofence of the same name instead of failing" };
        var command = new Command("add", "Add geofences from a GeoJSON file") { file, name, replace };
        return WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            var path = parse.GetValue(file)!;
            JsonNode? root;
            try
            {
                root = JsonNode.Parse(await File.ReadAllTextAsync(path.FullName, cancellationToken));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
            {
                throw new CliException($"cannot read {path.Name}: {e.Message}");
            }

            var features = root?["type"]?.GetValue<string>() == "FeatureCollection"
                ? root["features"]?.AsArray().Select(f => f!).ToList() ?? []
                : [root!];
            string? givenName = parse.GetValue(name);
            if (givenName is not null && features.Count != 1)
            {
                throw new CliException($"--name applies to one Feature; {path.Name} holds {features.Count}");
            }

            foreach (var feature in features)
            {
                string? fenceName = givenName ?? (feature["properties"]?["name"] ?? feature["id"])?.GetValue<string>();
                if (string.IsNullOrEmpty(fenceName))
                {
                    throw new CliException($"a Feature in {path.Name} has no name: give properties.name, an id, or --name");
                }

                // The name travels in properties.name, which the server prefers over the Feature's id.
                if (feature["properties"] is not JsonObject properties)
                {
                    properties = [];
                    feature["properties"] = properties;
                }

                properties["name"] = fenceName;
                bool put = parse.GetValue(replace);
                using var document = await SendAsync(client, put ? HttpMethod.Put : HttpMethod.Post, put ? ApiPath + "/" + Uri.EscapeDataString(fenceName) : ApiPath, feature.ToJsonString(), cancellationToken);
                await output.WriteLineAsync($"added {fenceName} ({document!.RootElement.GetProperty("properties").GetProperty("kind").GetString()})");
            }
        });
    }

    private static Command List()
    {
        var format = new Option<string>("--format") { Description = "Output format: table or geojson", DefaultValueFactory = _ => "table" };
        format.AcceptOnlyFromAmong("table", "geojson");
        var command = new Command("list", "List geofences") { format };
        return WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            using var document = await SendAsync(client, HttpMethod.Get, ApiPath, null, cancellationToken);
            var root = document!.RootElement;
            if (parse.GetValue(format) == "geojson")
            {
                await output.WriteLineAsync(Pretty(root));
                return;
            }

            var rows = root.GetProperty("features").EnumerateArray().Select(f =>
            {
                var properties = f.GetProperty("properties");
                var bbox = f.GetProperty("bbox").EnumerateArray().Select(v => v.GetDouble().ToString("0.######", CultureInfo.InvariantCulture));
                return new[]
                {
                    f.GetProperty("id").GetString() ?? "",
                    properties.GetProperty("kind").GetString() ?? "",
                    properties.TryGetProperty("radius_m", out var radius) ? radius.GetDouble().ToString(CultureInfo.InvariantCulture) : "",
                    string.Join(',', bbox),
                };
            }).ToList();
            await WriteTableAsync(output, ["NAME", "KIND", "RADIUS_M", "BBOX (W,S,E,N)"], rows);

            await error.WriteLineAsync($"{rows.Count} geofence{(rows.Count == 1 ? "" : "s")}");
        });
    }

    private static Command Show()
    {
        var name = new Argument<string>("name") { Description = "The geofence name" };
        var command = new Command("show", "Show one geofence as a GeoJSON Feature") { name };
        return WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            using var document = await SendAsync(client, HttpMethod.Get, ApiPath + "/" + Uri.EscapeDataString(parse.GetValue(name)!), null, cancellationToken);
            await output.WriteLineAsync(Pretty(document!.RootElement));
        });
    }

    private static Command Remove()
    {
        var name = new Argument<string>("name") { Description = "The geofence name" };
        var command = new Command("remove", "Remove a geofence") { name };
        return WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            string fence = parse.GetValue(name)!;
            using var document = await SendAsync(client, HttpMethod.Delete, ApiPath + "/" + Uri.EscapeDataString(fence), null, cancellationToken);
            await output.WriteLineAsync($"removed {fence}");
        });
    }

    // Geofences travel as GeoJSON, and the endpoint's own 400 explains what is wrong with the shape.
    private static Task<JsonDocument?> SendAsync(PlexusApiClient client, HttpMethod method, string path, string? body, CancellationToken cancellationToken) =>
        CommandSupport.SendAsync(client, method, path, body, cancellationToken, "application/geo+json", ownBadRequest: true);
}
