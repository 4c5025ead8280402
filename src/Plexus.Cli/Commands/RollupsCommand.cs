using System.CommandLine;
using System.Text.Json;

namespace Plexus.Cli.Commands;

/// <summary>`plexus rollups add|list|remove`: continuous per-window aggregates of a measurement (docs/cli.md#plexus-rollups).</summary>
internal static class RollupsCommand
{
    public static Command Create()
    {
        var command = new Command("rollups", "Add, list and remove rollups: min, max, avg, first, last and count of every numeric field per series and window, kept up to date as data arrives");
        command.Subcommands.Add(Add());
        command.Subcommands.Add(List());
        command.Subcommands.Add(Remove());
        command.Subcommands.Add(Refresh());
        return command;
    }

    private static Command Add()
    {
        var measurement = new Argument<string>("measurement") { Description = "The namespace.measurement to roll up, e.g. main.readings" };
        var every = new Option<string>("--every") { Description = "The window, e.g. 1m, 15m, 1h, 1d (whole minutes, hours or days, 1m to 31d)", Required = true };
        var retention = new Option<string?>("--retention") { Description = "How long windows are kept, e.g. 400d (default: every window is kept)" };
        var command = new Command("add", "Add a rollup; its windows over the data already stored are computed at the next maintainer run") { measurement, every, retention };
        return CommandSupport.WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            string body = CommandSupport.Json(json =>
            {
                json.WriteString("measurement", parse.GetValue(measurement));
                json.WriteString("every", parse.GetValue(every));
                if (parse.GetValue(retention) is { } kept)
                {
                    json.WriteString("retention", kept);
                }
            });
            using var document = await CommandSupport.SendAsync(client, HttpMethod.Post, "api/v1/rollups", body, cancellationToken, ownBadRequest: true);
            var root = document!.RootElement;
            string kept = root.GetProperty("retention").GetString() is { } r ? $", windows kept {r}" : "";
            await output.WriteLineAsync($"rollup {root.GetProperty("rollup").GetString()} of {root.GetProperty("measurement").GetString()}: every {root.GetProperty("every").GetString()}{kept}");
        });
    }

    private static Command List()
    {
        var format = CommandSupport.FormatOption();
        var command = new Command("list", "List the rollups") { format };
        return CommandSupport.WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            using var document = await CommandSupport.SendAsync(client, HttpMethod.Get, "api/v1/rollups", null, cancellationToken);
            var root = document!.RootElement;
            if (parse.GetValue(format) == "json")
            {
                await output.WriteLineAsync(CommandSupport.Pretty(root));
                return;
            }

            var rows = root.GetProperty("rollups").EnumerateArray()
                .Select(r => new[] { Text(r, "rollup"), Text(r, "measurement"), Text(r, "every"), Text(r, "retention") is { Length: > 0 } kept ? kept : "-" })
                .ToList();
            await CommandSupport.WriteTableAsync(output, ["ROLLUP", "MEASUREMENT", "EVERY", "RETENTION"], rows);
            await error.WriteLineAsync($"{rows.Count} rollup{(rows.Count == 1 ? "" : "s")}");
        });
    }

    private static Command Remove()
    {
        var rollup = new Argument<string>("rollup") { Description = "The rollup as namespace.name, e.g. main.readings_1h" };
        var command = new Command("remove", "Remove a rollup with its windows (the raw rows stay)") { rollup };
        return CommandSupport.WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            string name = parse.GetValue(rollup)!;
            using var document = await CommandSupport.SendAsync(client, HttpMethod.Delete, "api/v1/rollups/" + Uri.EscapeDataString(name), null, cancellationToken, ownBadRequest: true);
            await output.WriteLineAsync($"removed the rollup {name}");
        });
    }

    private static Command Refresh()
    {
        var command = new Command("refresh", "Bring every rollup up to date now, instead of at the maintainer's next run (--rollup-interval)");
        return CommandSupport.WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            using var document = await CommandSupport.SendAsync(client, HttpMethod.Post, "api/v1/rollups/refresh", null, cancellationToken);
            long windows = document!.RootElement.GetProperty("recomputed").GetInt64();
            await output.WriteLineAsync($"rollups up to date ({windows} window range{(windows == 1 ? "" : "s")} recomputed)");
        });
    }

    private static string Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString()! : "";
}
