using System.CommandLine;
using static Plexus.Cli.Commands.CommandSupport;

namespace Plexus.Cli.Commands;

/// <summary>`plexus alarms list|ack|clear`: the alarms rules open (docs/rules.md#alarms).</summary>
internal static class AlarmsCommand
{
    private const string ApiPath = "api/v1/alarms";

    public static Command Create()
    {
        var command = new Command("alarms", "List, acknowledge and clear the alarms rules open");
        command.Subcommands.Add(List());
        command.Subcommands.Add(Change("ack", "Acknowledge an alarm: someone is on it", "acknowledged"));
        command.Subcommands.Add(Change("clear", "Clear an alarm by hand; its rule opens a new one if the condition holds again", "cleared"));
        return command;
    }

    private static Command List()
    {
        var status = new Option<string?>("--status") { Description = "Only alarms in this state: active, acknowledged or cleared" };
        var device = new Option<string?>("--device") { Description = "Only this device's alarms (or series, for data without a device)" };
        var rule = new Option<string?>("--rule") { Description = "Only this rule's alarms" };
        var asset = new Option<string?>("--asset") { Description = "Only alarms of devices in this asset or below it: its id, or its path of ids from the root (north/depot-1)" };
        var limit = new Option<int?>("--limit") { Description = "At most this many, newest first (server default 100)" };
        var format = FormatOption();
        var command = new Command("list", "List alarms, newest first") { status, device, rule, asset, limit, format };
        return WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            var query = new List<string>();
            void Add(string name, string? value)
            {
                if (!string.IsNullOrEmpty(value))
                {
                    query.Add($"{name}={Uri.EscapeDataString(value)}");
                }
            }

            Add("status", parse.GetValue(status));
            Add("device", parse.GetValue(device));
            Add("rule", parse.GetValue(rule));
            Add("asset", parse.GetValue(asset));
            Add("limit", parse.GetValue(limit)?.ToString(System.Globalization.CultureInfo.InvariantCulture));
            using var document = await SendAsync(client, HttpMethod.Get, query.Count == 0 ? ApiPath : ApiPath + "?" + string.Join('&', query), null, cancellationToken, ownBadRequest: true);
            var root = document!.RootElement;
            if (parse.GetValue(format) == "json")
            {
                await output.WriteLineAsync(Pretty(root));
                return;
            }

            var rows = root.GetProperty("alarms").EnumerateArray().Select(a => new[]
            {
                a.GetProperty("id").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture),
                a.GetProperty("rule").GetString() ?? "",
                a.GetProperty("device").GetString() ?? "",
                a.GetProperty("severity").GetString() ?? "",
                a.GetProperty("status").GetString() ?? "",
                a.GetProperty("count").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture),
                a.GetProperty("raised_at").GetString() ?? "",
                a.GetProperty("last_value").GetRawText(),
            }).ToList();
            await WriteTableAsync(output, ["ID", "RULE", "DEVICE", "SEVERITY", "STATUS", "COUNT", "RAISED_AT", "LAST_VALUE"], rows);
            await error.WriteLineAsync($"{rows.Count} alarm{(rows.Count == 1 ? "" : "s")}");
        });
    }

    private static Command Change(string verb, string description, string done)
    {
        var id = new Argument<long>("id") { Description = "The alarm's id (plexus alarms list shows it)" };
        var command = new Command(verb, description) { id };
        return WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            long alarm = parse.GetValue(id);
            using var document = await SendAsync(client, HttpMethod.Post, $"{ApiPath}/{alarm}/{verb}", null, cancellationToken);
            await output.WriteLineAsync($"{done} alarm {alarm} ({document!.RootElement.GetProperty("status").GetString()})");
        });
    }
}
