using System.CommandLine;
using System.Globalization;
using System.Text;
using Plexus.Cli.Client;
using static Plexus.Cli.Commands.CommandSupport;

namespace Plexus.Cli.Commands;

/// <summary>`plexus assets add|list|show|update|remove|import`: sites, buildings, fleets... (docs/assets.md).</summary>
internal static class AssetsCommand
{
    public static Command Create()
    {
        var command = new Command("assets", "Manage assets (sites, buildings, floors, rooms, fleets...) that devices belong to");
        command.Subcommands.Add(Add());
        command.Subcommands.Add(List());
        command.Subcommands.Add(Show());
        command.Subcommands.Add(Update());
        command.Subcommands.Add(Remove());
        command.Subcommands.Add(Import());
        return command;
    }

    private static Command Add()
    {
        var id = IdArgument();
        var (name, type, tags, parent) = MetadataOptions();
        var command = new Command("add", "Create an asset") { id, name, type, tags, parent };
        return WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            string body = NewEntryJson(parse.GetValue(id), parse.GetValue(name), parse.GetValue(type), parse.GetValue(parent), ParseTags(parse.GetValue(tags)));
            using var document = await SendAsync(client, HttpMethod.Post, "api/v1/assets", body, cancellationToken);
            await output.WriteLineAsync(Pretty(document!.RootElement));
        });
    }

    private static Command List()
    {
        var tags = TagOption("Only assets with this tag (key=value); repeat to require several");
        var type = new Option<string?>("--type") { Description = "Only assets of this type, e.g. site" };
        var parent = new Option<string?>("--parent") { Description = "Only the direct children of this asset" };
        var limit = new Option<int?>("--limit") { Description = "At most this many assets (server default 100)" };
        var offset = new Option<int?>("--offset") { Description = "Skip this many assets first" };
        var format = FormatOption();
        var command = new Command("list", "List assets in id order") { tags, type, parent, limit, offset, format };
        return WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            var query = new List<string>();
            foreach (var (key, value) in ParseTags(parse.GetValue(tags)) ?? [])
            {
                query.Add("tag=" + Uri.EscapeDataString(key + ":" + value));
            }

            if (parse.GetValue(type) is { } t)
            {
                query.Add("type=" + Uri.EscapeDataString(t));
            }

            if (parse.GetValue(parent) is { } p)
            {
                query.Add("parent=" + Uri.EscapeDataString(p));
            }

            if (parse.GetValue(limit) is { } l)
            {
                query.Add("limit=" + l.ToString(CultureInfo.InvariantCulture));
            }

            if (parse.GetValue(offset) is { } o)
            {
                query.Add("offset=" + o.ToString(CultureInfo.InvariantCulture));
            }

            string path = "api/v1/assets" + (query.Count > 0 ? "?" + string.Join('&', query) : "");
            using var document = await SendAsync(client, HttpMethod.Get, path, null, cancellationToken);
            await WriteEntriesPageAsync(document!.RootElement, parse.GetValue(format), "assets", "asset", output, error);
        });
    }

    private static Command Show()
    {
        var id = IdArgument();
        var command = new Command("show", "Show one asset with its direct children") { id };
        return WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            using var document = await SendAsync(client, HttpMethod.Get, "api/v1/assets/" + Uri.EscapeDataString(parse.GetValue(id)!), null, cancellationToken);
            await output.WriteLineAsync(Pretty(document!.RootElement));
        });
    }

    private static Command Update()
    {
        var id = IdArgument();
        var (name, type, tags, parent) = MetadataOptions();
        tags.Description = "Replace the asset's tags with these (key=value, repeatable)";
        var clearTags = new Option<bool>("--clear-tags") { Description = "Remove every tag" };
        var clearParent = new Option<bool>("--clear-parent") { Description = "Make it a top-level asset" };
        var command = new Command("update", "Change an asset's name, type, tags or parent; what is not given stays") { id, name, type, tags, parent, clearTags, clearParent };
        return WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            var newTags = ParseTags(parse.GetValue(tags));
            string body = ChangesJson(parse.GetValue(name), parse.GetValue(type), parse.GetValue(parent), parse.GetValue(clearParent), newTags, parse.GetValue(clearTags));
            using var document = await SendAsync(client, HttpMethod.Patch, "api/v1/assets/" + Uri.EscapeDataString(parse.GetValue(id)!), body, cancellationToken);
            await output.WriteLineAsync(Pretty(document!.RootElement));
        });
    }

    private static Command Remove()
    {
        var id = IdArgument();
        var cascade = new Option<string?>("--cascade") { Description = "With children: detach (they lose their parent) or delete (assets below are removed, devices detached)" };
        cascade.AcceptOnlyFromAmong("detach", "delete");
        var command = new Command("remove", "Remove an asset (refused while it has children, unless --cascade)") { id, cascade };
        return WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            string assetId = parse.GetValue(id)!;
            string path = "api/v1/assets/" + Uri.EscapeDataString(assetId) + (parse.GetValue(cascade) is { } c ? "?cascade=" + c : "");
            using var document = await SendAsync(client, HttpMethod.Delete, path, null, cancellationToken);
            await output.WriteLineAsync($"removed {assetId}");
        });
    }

    private static Command Import()
    {
        var file = new Argument<string>("file") { Description = "A .csv file (header id,name,type,parent,tags.KEY...) or a .json array of assets; - reads JSON from standard input" };
        var command = new Command("import", "Create many assets from CSV or JSON; parents may come after their children") { file };
        return WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            string path = parse.GetValue(file)!;
            string body;
            try
            {
                if (path == "-")
                {
                    using var reader = new StreamReader(CliConsole.OpenStandardInput(), Encoding.UTF8);
                    body = await reader.ReadToEndAsync(cancellationToken);
                }
                else
                {
                    body = await File.ReadAllTextAsync(path, cancellationToken);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliException($"cannot read {path}: {e.Message}", e);
            }

            string contentType = path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) ? "text/csv" : "application/json";
            using var document = await SendAsync(client, HttpMethod.Post, "api/v1/assets/import", body, cancellationToken, contentType);
            var root = document!.RootElement;
            foreach (var result in root.GetProperty("results").EnumerateArray())
            {
                if (result.GetProperty("status").GetString() == "error")
                {
                    string where = result.TryGetProperty("line", out var line) ? $"line {line.GetInt32()}" : $"item {result.GetProperty("index").GetInt32()}";
                    await error.WriteLineAsync($"{where}: {result.GetProperty("message").GetString()}");
                }
            }

            int failed = root.GetProperty("failed").GetInt32();
            await output.WriteLineAsync($"created {root.GetProperty("created").GetInt32()}, failed {failed}");
            if (failed > 0)
            {
                throw new CliException($"{failed} asset(s) were not created");
            }
        });
    }

    private static Argument<string> IdArgument() => new("id") { Description = "The asset id: 1–128 letters, digits, '_', '-', '.', ':' (shared with device ids)" };

    private static (Option<string?> Name, Option<string?> Type, Option<string[]> Tags, Option<string?> Parent) MetadataOptions() =>
        CommandSupport.MetadataOptions("The kind of asset, e.g. site, building, floor, room, fleet, truck", "The id of the asset this one belongs to");

    private static List<KeyValuePair<string, string>>? ParseTags(string[]? tags) => CommandSupport.ParseTags(tags, "region=EU");
}
