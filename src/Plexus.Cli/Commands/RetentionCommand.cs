using System.CommandLine;
using System.Text.Json;

namespace Plexus.Cli.Commands;

/// <summary>`plexus retention set|list|remove`: how long raw rows are kept (docs/cli.md#plexus-retention); needs an admin token.</summary>
internal static class RetentionCommand
{
    public static Command Create()
    {
        var command = new Command("retention", "Set, list and remove retention policies: rows older than a namespace's or measurement's retention are deleted");
        command.Subcommands.Add(Set());
        command.Subcommands.Add(List());
        command.Subcommands.Add(Remove());
        return command;
    }

    private static Command Set()
    {
        var target = TargetArgument();
        var raw = new Option<string>("--raw") { Description = "How long rows are kept, e.g. 30d, 12h, 90m, 2w", Required = true };
        var command = new Command("set", "Set (or replace) the retention of a namespace or one measurement") { target, raw };
        return CommandSupport.WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            string body = CommandSupport.Json(json => json.WriteString("raw", parse.GetValue(raw)));
            using var document = await CommandSupport.SendAsync(client, HttpMethod.Put, "api/v1/retention/" + Uri.EscapeDataString(parse.GetValue(target)!), body, cancellationToken, ownBadRequest: true);
            var root = document!.RootElement;
            await output.WriteLineAsync($"retention of {root.GetProperty("target").GetString()}: {root.GetProperty("raw").GetString()} (older rows are deleted at the next check)");
        });
    }

    private static Command List()
    {
        var format = CommandSupport.FormatOption();
        var command = new Command("list", "List the retention policies") { format };
        return CommandSupport.WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            using var document = await CommandSupport.SendAsync(client, HttpMethod.Get, "api/v1/retention", null, cancellationToken);
            var root = document!.RootElement;
            if (parse.GetValue(format) == "json")
            {
                await output.WriteLineAsync(CommandSupport.Pretty(root));
                return;
            }

            var rows = root.GetProperty("policies").EnumerateArray()
                .Select(p => new[] { p.GetProperty("target").GetString() ?? "", p.GetProperty("raw").GetString() ?? "", Text(p, "updated_at") })
                .ToList();
            await CommandSupport.WriteTableAsync(output, ["TARGET", "RAW", "UPDATED"], rows);
            await error.WriteLineAsync($"{rows.Count} retention polic{(rows.Count == 1 ? "y" : "ies")}");
        });
    }

    private static Command Remove()
    {
        var target = TargetArgument();
        var command = new Command("remove", "Remove a retention policy: rows are kept again from now on (deleted ones stay deleted)") { target };
        return CommandSupport.WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            string name = parse.GetValue(target)!;
            using var document = await CommandSupport.SendAsync(client, HttpMethod.Delete, "api/v1/retention/" + Uri.EscapeDataString(name), null, cancellationToken, ownBadRequest: true);
            await output.WriteLineAsync($"removed the retention policy of {name}");
        });
    }

    private static Argument<string> TargetArgument() => new("target") { Description = "A namespace (every measurement without its own policy) or namespace.measurement, e.g. main.readings" };

    private static string Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString()! : "";
}
