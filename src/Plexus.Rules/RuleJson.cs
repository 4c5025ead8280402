using System.Text.Json;
using Plexus.Core;
using Plexus.Devices.Twin;
using Plexus.Rules.Actions;

namespace Plexus.Rules;

/// <summary>
/// A rule's JSON (docs/rules.md#the-rule): read with a refusal naming the member at fault, written back the same way,
/// so that what <c>GET</c> shows can be sent again with <c>PUT</c>.
/// </summary>
public static class RuleJson
{
    public const int MaxNameLength = 128;
    public const int MaxActions = 10;
    public const int MaxDescriptionLength = 1024;
    public const int MaxJsonLength = 65_536;

    public const string Example = """{"name": "overheat", "from": "telemetry", "where": "temperature > 80", "for": "5m", "severity": "major"}""";

    private static readonly string[] Members = ["name", "from", "where", "for", "clear_when", "absent_for", "severity", "description", "actions", "paused", "status", "created_at", "updated_at", "error"];

    /// <summary>Reads a rule; <paramref name="name"/> (from the URL) wins over, and must agree with, a name in the body.</summary>
    public static RuleDefinition Parse(JsonElement root, string? name = null)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw RegistryException.Invalid(null, $"a rule is a JSON object like {Example}");
        }

        foreach (var member in root.EnumerateObject())
        {
            if (!Members.Contains(member.Name, StringComparer.Ordinal))
            {
                throw RegistryException.Invalid(member.Name, $"unknown member \"{member.Name}\"; a rule has {string.Join(", ", Members[..9])}");
            }
        }

        string? bodyName = String(root, "name");
        if (name is not null && bodyName is not null && !string.Equals(name, bodyName, StringComparison.Ordinal))
        {
            throw RegistryException.Invalid("name", $"the body names the rule \"{bodyName}\" but the request is for \"{name}\"; make them agree or leave name out");
        }

        name ??= bodyName;
        CheckName(name);
        string from = String(root, "from") ?? throw RegistryException.Invalid("from", "a rule needs \"from\": the measurement it watches, e.g. \"telemetry\" or \"plant.telemetry\"");
        if (from.Length == 0 || from.StartsWith('.') || from.EndsWith('.'))
        {
            throw RegistryException.Invalid("from", $"\"{from}\" is not a measurement; write \"telemetry\" (namespace main) or \"plant.telemetry\"");
        }

        var severityText = String(root, "severity");
        var severity = RuleSeverity.Warning;
        if (severityText is not null && (int.TryParse(severityText, out _) || !Enum.TryParse(severityText, ignoreCase: true, out severity)))
        {
            throw RegistryException.Invalid("severity", $"severity \"{severityText}\" is not one of critical, major, minor, warning, info");
        }

        var definition = new RuleDefinition
        {
            Name = name!,
            From = from,
            Where = String(root, "where"),
            For = Duration(root, "for") ?? TimeSpan.Zero,
            ClearWhen = String(root, "clear_when"),
            AbsentFor = Duration(root, "absent_for"),
            Severity = severity,
            Description = String(root, "description"),
            Actions = Actions(root),
        };
        if (definition.Description?.Length > MaxDescriptionLength)
        {
            throw RegistryException.Invalid("description", $"the description is {definition.Description.Length} characters; at most {MaxDescriptionLength}");
        }

        if (definition.Where is null && definition.AbsentFor is null)
        {
            throw RegistryException.Invalid("where", "a rule needs \"where\" (the condition, e.g. \"temperature > 80\") or \"absent_for\" (e.g. \"10m\": no data for that long)");
        }

        if (definition.Where is null && (definition.ClearWhen is not null || definition.For > TimeSpan.Zero))
        {
            throw RegistryException.Invalid(definition.ClearWhen is not null ? "clear_when" : "for", "\"for\" and \"clear_when\" belong to a condition: give \"where\" too");
        }

        if (definition.AbsentFor is not null && (definition.ClearWhen is not null || definition.For > TimeSpan.Zero))
        {
            throw RegistryException.Invalid("absent_for", "an absence rule opens when data stops and clears when it comes back; \"for\" and \"clear_when\" do not apply to it");
        }

        return definition;
    }

    public static void CheckName(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            throw RegistryException.Invalid("name", "a rule needs a name, e.g. \"overheat\"");
        }

        if (name.Length > MaxNameLength)
        {
            throw RegistryException.Invalid("name", $"the name is {name.Length} characters; at most {MaxNameLength}");
        }

        foreach (char c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.'))
            {
                throw RegistryException.Invalid("name", $"\"{name}\" has '{c}'; a rule name is 1–{MaxNameLength} letters, digits, '_', '-', '.'");
            }
        }
    }

    public static void Write(Utf8JsonWriter json, RuleDefinition rule)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(rule);
        json.WriteString("name", rule.Name);
        json.WriteString("from", rule.From);
        if (rule.Where is not null)
        {
            json.WriteString("where", rule.Where);
        }

        if (rule.For > TimeSpan.Zero)
        {
            json.WriteString("for", RuleDurations.Format(rule.For));
        }

        if (rule.ClearWhen is not null)
        {
            json.WriteString("clear_when", rule.ClearWhen);
        }

        if (rule.AbsentFor is { } absent)
        {
            json.WriteString("absent_for", RuleDurations.Format(absent));
        }

        json.WriteString("severity", rule.Severity.ToString().ToLowerInvariant());
        if (rule.Description is not null)
        {
            json.WriteString("description", rule.Description);
        }

        json.WriteStartArray("actions");
        foreach (var action in rule.Actions)
        {
            json.WriteStartObject();
            json.WriteString("type", action.Type);
            if (action.Url is not null)
            {
                json.WriteString("url", action.Url);
            }

            if (action.Topic is not null)
            {
                json.WriteString("topic", action.Topic);
            }

            if (action.Name is not null)
            {
                json.WriteString("name", action.Name);
            }

            if (action.Measurement is not null)
            {
                json.WriteString("measurement", action.Measurement);
                json.WritePropertyName("fields");
                json.WriteRawValue(action.Fields!);
                if (action.Tags is not null)
                {
                    json.WritePropertyName("tags");
                    json.WriteRawValue(action.Tags);
                }
            }

            if (action.Payload is not null)
            {
                json.WriteString("payload", action.Payload);
            }

            if (action.Json is not null)
            {
                json.WritePropertyName(action.Type == RuleAction.Desired ? "properties" : "payload");
                json.WriteRawValue(action.Json);
            }

            if (action.Timeout is { } timeout)
            {
                json.WriteString("timeout", RuleDurations.Format(timeout));
            }

            json.WriteEndObject();
        }

        json.WriteEndArray();
    }

    /// <summary>The definition alone as JSON text, as it is kept in the data folder.</summary>
    public static string ToText(RuleDefinition rule)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            Write(json, rule);
            json.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static List<RuleAction> Actions(JsonElement root)
    {
        if (!root.TryGetProperty("actions", out var actions) || actions.ValueKind == JsonValueKind.Null)
        {
            return [];
        }

        if (actions.ValueKind != JsonValueKind.Array)
        {
            throw RegistryException.Invalid("actions", """actions is a list, e.g. [{"type": "webhook", "url": "http://127.0.0.1:9000/hook"}]""");
        }

        if (actions.GetArrayLength() > MaxActions)
        {
            throw RegistryException.Invalid("actions", $"a rule has at most {MaxActions} actions, not {actions.GetArrayLength()}");
        }

        var list = new List<RuleAction>();
        int index = 0;
        foreach (var action in actions.EnumerateArray())
        {
            string field = $"actions[{index++}]";
            if (action.ValueKind != JsonValueKind.Object)
            {
                throw RegistryException.Invalid(field, $"an action is an object with a \"type\": {ActionTypes}");
            }

            foreach (var member in action.EnumerateObject())
            {
                if (member.Name is not ("type" or "url" or "topic" or "timeout" or "payload" or "measurement" or "fields" or "tags" or "properties" or "name"))
                {
                    throw RegistryException.Invalid($"{field}.{member.Name}", $"unknown member \"{member.Name}\"; an action has type, url (webhook), topic and payload (mqtt), measurement, fields and tags (point), properties (desired), name and payload (command), timeout");
                }
            }

            string? type = String(action, "type", field);
            var timeout = Duration(action, "timeout", field);
            if (type == RuleAction.Command)
            {
                if (timeout is { } commandTimeout && commandTimeout < TimeSpan.FromSeconds(1))
                {
                    throw RegistryException.Invalid($"{field}.timeout", "a command's timeout is at least 1s (and at most --max-command-timeout)");
                }
            }
            else if (timeout is { } t && (t <= TimeSpan.Zero || t > TimeSpan.FromMinutes(1)))
            {
                throw RegistryException.Invalid($"{field}.timeout", "an action's timeout is between 1ms and 1m");
            }

            foreach (string member in (string[])["url", "topic", "measurement", "fields", "tags", "properties", "name", "payload", "timeout"])
            {
                if (action.TryGetProperty(member, out var present) && present.ValueKind != JsonValueKind.Null && !Applies(type, member))
                {
                    throw RegistryException.Invalid($"{field}.{member}", $"\"{member}\" does not belong to a {type} action");
                }
            }

            switch (type)
            {
                case RuleAction.Webhook:
                    {
                        string? url = String(action, "url", field);
                        if (url is null || !Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || url.Length > 2048)
                        {
                            throw RegistryException.Invalid($"{field}.url", $"a webhook needs an absolute http:// or https:// url (at most 2048 characters), not \"{url}\"");
                        }

                        list.Add(new RuleAction(type, Url: url, Timeout: timeout));
                        break;
                    }

                case RuleAction.Mqtt:
                    {
                        string topic = String(action, "topic", field) ?? "alarms/{rule}/{device}";
                        if (topic.Length is 0 or > 1024 || topic.Contains('#', StringComparison.Ordinal) || topic.Contains('+', StringComparison.Ordinal) || topic.StartsWith('$') || topic.Contains('\0', StringComparison.Ordinal))
                        {
                            throw RegistryException.Invalid($"{field}.topic", $"\"{topic}\" is not a topic to publish on: 1–1024 characters, no wildcards (+, #), not starting with $");
                        }

                        string? payload = String(action, "payload", field);
                        if (payload?.Length > 65_536)
                        {
                            throw RegistryException.Invalid($"{field}.payload", "a payload template is at most 65,536 characters");
                        }

                        list.Add(new RuleAction(type, Topic: topic, Payload: payload, Timeout: timeout));
                        break;
                    }

                case RuleAction.Point:
                    {
                        string? measurement = String(action, "measurement", field);
                        var (fields, tags) = DerivedPoint.Check(field, measurement, Member(action, "fields"), Member(action, "tags"));
                        list.Add(new RuleAction(type) { Measurement = measurement, Fields = fields, Tags = tags });
                        break;
                    }

                case RuleAction.Desired:
                    {
                        var properties = Member(action, "properties");
                        if (properties is not { ValueKind: JsonValueKind.Object } patch)
                        {
                            throw RegistryException.Invalid($"{field}.properties", """a desired action needs "properties", a JSON merge patch of the device's desired properties, e.g. {"mode": "safe", "alarm": "{rule}"}""");
                        }

                        list.Add(new RuleAction(type) { Json = CheckJson($"{field}.properties", patch, desired: true) });
                        break;
                    }

                case RuleAction.Command:
                    {
                        string? name = String(action, "name", field);
                        try
                        {
                            DeviceCommands.CheckName(name);
                        }
                        catch (RegistryException error)
                        {
                            throw RegistryException.Invalid($"{field}.name", error.Message);
                        }

                        string? payload = Member(action, "payload") is { } value ? CheckJson($"{field}.payload", value, desired: false) : null;
                        list.Add(new RuleAction(type, Timeout: timeout) { Name = name, Json = payload });
                        break;
                    }

                default:
                    throw RegistryException.Invalid($"{field}.type", $"action type \"{type}\" is not one of {ActionTypes}");
            }
        }

        return list;
    }

    private const string ActionTypes = "webhook, mqtt, point, desired, command";

    private static bool Applies(string? type, string member) => (type, member) switch
    {
        (RuleAction.Webhook, "url" or "timeout") => true,
        (RuleAction.Mqtt, "topic" or "payload" or "timeout") => true,
        (RuleAction.Point, "measurement" or "fields" or "tags") => true,
        (RuleAction.Desired, "properties") => true,
        (RuleAction.Command, "name" or "payload" or "timeout") => true,
        (RuleAction.Webhook or RuleAction.Mqtt or RuleAction.Point or RuleAction.Desired or RuleAction.Command, _) => false,

        // An unknown type is refused by its own check, which names it.
        _ => true,
    };

    private static JsonElement? Member(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    /// <summary>A desired patch or command payload: compact, at most 65,536 characters, and (a patch) names a device could report.</summary>
    private static string CheckJson(string field, JsonElement value, bool desired)
    {
        string text = JsonSerializer.Serialize(value);
        if (text.Length > MaxJsonLength)
        {
            throw RegistryException.Invalid(field, $"{field} takes {text.Length} characters of JSON; at most {MaxJsonLength}");
        }

        if (desired)
        {
            try
            {
                DesiredDocument.Apply(null, value, int.MaxValue);
            }
            catch (RegistryException error)
            {
                throw RegistryException.Invalid(field, error.Message);
            }
        }

        return text;
    }

    private static string? String(JsonElement root, string name, string? parent = null)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            throw RegistryException.Invalid(parent is null ? name : $"{parent}.{name}", $"{name} must be a string, not {value.ValueKind.ToString().ToLowerInvariant()}");
        }

        return value.GetString();
    }

    private static TimeSpan? Duration(JsonElement root, string name, string? parent = null)
    {
        string? text = String(root, name, parent);
        if (text is null)
        {
            return null;
        }

        if (!RuleDurations.TryParse(text, out var duration) || duration > TimeSpan.FromDays(365))
        {
            throw RegistryException.Invalid(parent is null ? name : $"{parent}.{name}", $"\"{text}\" is not a duration like 30s, 5m, 1h30m or 2d (at most 365d)");
        }

        return duration;
    }
}
