using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Plexus.Cli.Client;
using static Plexus.Cli.Commands.CommandSupport;

namespace Plexus.Cli.Commands;

/// <summary>`plexus rules add|list|show|update|pause|resume|remove`: rules over stored data (docs/rules.md).</summary>
internal static class RulesCommand
{
    private const string ApiPath = "api/v1/rules";

    public static Command Create()
    {
        var command = new Command("rules", "Manage rules: conditions on stored data that open alarms and run actions");
        command.Subcommands.Add(Add());
        command.Subcommands.Add(List());
        command.Subcommands.Add(Show());
        command.Subcommands.Add(Update());
        command.Subcommands.Add(SetPaused("pause", "Pause a rule: it is not evaluated and its open alarms stay as they are", paused: true));
        command.Subcommands.Add(SetPaused("resume", "Resume a paused rule", paused: false));
        command.Subcommands.Add(Remove());
        return command;
    }

    /// <summary>The flags that make or change a rule; each one given sets that member of the JSON.</summary>
    private sealed class RuleFlags
    {
        public Option<FileInfo?> File { get; } = new("--file", "-f") { Description = "A JSON or YAML (.yaml, .yml) file with the rule (docs/rules.md#the-rule); flags given as well override its members" };
        public Option<string?> From { get; } = new("--from") { Description = "The measurement watched: telemetry (namespace main) or plant.telemetry" };
        public Option<string?> Where { get; } = new("--where") { Description = "The condition, a SQL expression, e.g. \"temperature > 80 AND device.type = 'freezer'\"" };
        public Option<string?> For { get; } = new("--for") { Description = "How long (event time) the condition must hold first, e.g. 5m" };
        public Option<string?> ClearWhen { get; } = new("--clear-when") { Description = "What clears the alarm (default: NOT where), e.g. \"temperature < 75\"" };
        public Option<string?> AbsentFor { get; } = new("--absent-for") { Description = "Alarm when a device sends nothing for this long, e.g. 10m" };
        public Option<string?> Severity { get; } = new("--severity") { Description = "critical, major, minor, warning (default) or info" };
        public Option<string?> Description { get; } = new("--description") { Description = "What the rule is for" };
        public Option<string[]> Webhooks { get; } = new("--webhook") { Description = "Call this URL with the alarm as JSON (repeatable)", AllowMultipleArgumentsPerToken = false };
        public Option<string[]> MqttTopics { get; } = new("--mqtt-topic") { Description = "Publish the alarm on this topic; {rule} and {device} are filled in, e.g. alarms/{rule}/{device} (repeatable)" };

        public void AddTo(Command command)
        {
            foreach (var option in new Option[] { File, From, Where, For, ClearWhen, AbsentFor, Severity, Description, Webhooks, MqttTopics })
            {
                command.Options.Add(option);
            }
        }

        /// <summary>The rule's JSON: <paramref name="start"/> (the file, or the rule as stored) with each flag given applied.</summary>
        public async Task<JsonObject> BuildAsync(ParseResult parse, JsonObject? start, CancellationToken cancellationToken)
        {
            var rule = start ?? [];
            if (parse.GetValue(File) is { } file)
            {
                try
                {
                    string text = await System.IO.File.ReadAllTextAsync(file.FullName, cancellationToken);
                    rule = RuleYaml.IsYaml(file.Name)
                        ? RuleYaml.ToJson(text, file.Name)
                        : JsonNode.Parse(text) as JsonObject ?? throw new CliException($"{file.Name} does not hold a JSON object");
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
                {
                    throw new CliException($"cannot read {file.Name}: {e.Message}");
                }
            }

            Set(rule, "from", parse.GetValue(From));
            Set(rule, "where", parse.GetValue(Where));
            Set(rule, "for", parse.GetValue(For));
            Set(rule, "clear_when", parse.GetValue(ClearWhen));
            Set(rule, "absent_for", parse.GetValue(AbsentFor));
            Set(rule, "severity", parse.GetValue(Severity));
            Set(rule, "description", parse.GetValue(Description));
            var webhooks = parse.GetValue(Webhooks) ?? [];
            var topics = parse.GetValue(MqttTopics) ?? [];
            if (webhooks.Length + topics.Length > 0)
            {
                var actions = new JsonArray();
                foreach (var url in webhooks)
                {
                    actions.Add(new JsonObject { ["type"] = "webhook", ["url"] = url });
                }

                foreach (var topic in topics)
                {
                    actions.Add(new JsonObject { ["type"] = "mqtt", ["topic"] = topic });
                }

                rule["actions"] = actions;
            }

            // What GET shows besides the definition is not sent back.
            foreach (var member in new[] { "paused", "created_at", "updated_at" })
            {
                rule.Remove(member);
            }

            return rule;
        }

        private static void Set(JsonObject rule, string member, string? value)
        {
            if (value is not null)
            {
                rule[member] = value;
            }
        }
    }

    private static Command Add()
    {
        var name = new Argument<string?>("name") { Description = "The rule's name (or name in --file)", Arity = ArgumentArity.ZeroOrOne };
        var flags = new RuleFlags();
        var command = new Command("add", "Add a rule from flags or a JSON file") { name };
        flags.AddTo(command);
        return WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            var rule = await flags.BuildAsync(parse, null, cancellationToken);
            if (parse.GetValue(name) is { } given)
            {
                rule["name"] = given;
            }

            using var document = await SendAsync(client, HttpMethod.Post, ApiPath, rule.ToJsonString(), cancellationToken, ownBadRequest: true);
            await output.WriteLineAsync($"added rule {document!.RootElement.GetProperty("name").GetString()}");
        });
    }

    private static Command Update()
    {
        var name = new Argument<string>("name") { Description = "The rule's name" };
        var flags = new RuleFlags();
        var command = new Command("update", "Change a rule: the flags given replace those members, --file replaces the whole rule") { name };
        flags.AddTo(command);
        return WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            string rule = parse.GetValue(name)!;
            string path = ApiPath + "/" + Uri.EscapeDataString(rule);
            JsonObject? current = null;
            if (parse.GetValue(flags.File) is null)
            {
                using var existing = await SendAsync(client, HttpMethod.Get, path, null, cancellationToken);
                current = JsonNode.Parse(existing!.RootElement.GetRawText()) as JsonObject;
            }

            var changed = await flags.BuildAsync(parse, current, cancellationToken);
            changed["name"] = rule;
            using var document = await SendAsync(client, HttpMethod.Put, path, changed.ToJsonString(), cancellationToken, ownBadRequest: true);
            await output.WriteLineAsync($"updated rule {rule}");
        });
    }

    private static Command List()
    {
        var format = FormatOption();
        var command = new Command("list", "List rules") { format };
        return WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            using var document = await SendAsync(client, HttpMethod.Get, ApiPath, null, cancellationToken);
            var root = document!.RootElement;
            if (parse.GetValue(format) == "json")
            {
                await output.WriteLineAsync(Pretty(root));
                return;
            }

            var rows = root.GetProperty("rules").EnumerateArray().Select(r => new[]
            {
                r.GetProperty("name").GetString() ?? "",
                r.GetProperty("from").GetString() ?? "",
                r.TryGetProperty("where", out var where) ? where.GetString() ?? "" : "absent for " + r.GetProperty("absent_for").GetString(),
                r.TryGetProperty("for", out var holds) ? holds.GetString() ?? "" : "",
                r.GetProperty("severity").GetString() ?? "",
                r.GetProperty("paused").GetBoolean() ? "paused" : "active",
            }).ToList();
            await WriteTableAsync(output, ["NAME", "FROM", "CONDITION", "FOR", "SEVERITY", "STATUS"], rows);
            await error.WriteLineAsync($"{rows.Count} rule{(rows.Count == 1 ? "" : "s")}");
        });
    }

    private static Command Show()
    {
        var name = new Argument<string>("name") { Description = "The rule's name" };
        var command = new Command("show", "Show one rule as JSON") { name };
        return WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            using var document = await SendAsync(client, HttpMethod.Get, ApiPath + "/" + Uri.EscapeDataString(parse.GetValue(name)!), null, cancellationToken);
            await output.WriteLineAsync(Pretty(document!.RootElement));
        });
    }

    private static Command SetPaused(string verb, string description, bool paused)
    {
        var name = new Argument<string>("name") { Description = "The rule's name" };
        var command = new Command(verb, description) { name };
        return WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            string rule = parse.GetValue(name)!;
            using var document = await SendAsync(client, HttpMethod.Post, $"{ApiPath}/{Uri.EscapeDataString(rule)}/{verb}", null, cancellationToken);
            await output.WriteLineAsync($"{(paused ? "paused" : "resumed")} rule {rule}");
        });
    }

    private static Command Remove()
    {
        var name = new Argument<string>("name") { Description = "The rule's name" };
        var command = new Command("remove", "Remove a rule") { name };
        return WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            string rule = parse.GetValue(name)!;
            using var document = await SendAsync(client, HttpMethod.Delete, ApiPath + "/" + Uri.EscapeDataString(rule), null, cancellationToken);
            await output.WriteLineAsync($"removed rule {rule}");
        });
    }
}
