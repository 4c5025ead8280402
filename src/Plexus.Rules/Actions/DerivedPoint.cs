using System.Text;
using System.Text.Json;
using Plexus.Core;
using Plexus.Devices;
using Plexus.Rules.Alarms;
using Plexus.Storage.Schema;

namespace Plexus.Rules.Actions;

/// <summary>
/// The point a <c>point</c> action writes (docs/rules.md#actions): checked when the rule is saved, built from the
/// alarm when it runs. Names are plain SQL identifiers so that the derived measurement reads without quoting.
/// </summary>
public static class DerivedPoint
{
    public const int MaxNameLength = 128;
    public const int MaxMembers = 32;
    public const int MaxTemplateLength = 4096;

    private const string ValuePrefix = "{value.";

    /// <summary>
    /// Checks a point action's measurement, fields and tags; throws a refusal naming the member at fault (under
    /// <paramref name="field"/>, e.g. <c>actions[0]</c>). Returns the fields and tags as compact JSON text.
    /// </summary>
    public static (string Fields, string? Tags) Check(string field, string? measurement, JsonElement? fields, JsonElement? tags)
    {
        if (measurement is null)
        {
            throw RegistryException.Invalid($"{field}.measurement", "a point action needs \"measurement\": where the derived point is written, e.g. \"alarm_events\" or \"plant.alarm_events\"");
        }

        var (ns, name) = Split(measurement);
        if (!Namespaces.TryNormalize(ns, out string normalized, out string? problem) || ns.Contains('/', StringComparison.Ordinal))
        {
            throw RegistryException.Invalid($"{field}.measurement", $"\"{measurement}\": {problem ?? "a namespace has no '/'"}");
        }

        CheckIdentifier($"{field}.measurement", name, "measurement");
        if (string.Equals(normalized, ReservedMeasurements.Namespace, StringComparison.Ordinal) && ReservedMeasurements.IsReservedName(name))
        {
            throw RegistryException.Invalid($"{field}.measurement", ReservedMeasurements.Reason(name));
        }

        if (fields is not { ValueKind: JsonValueKind.Object } fieldObject || !fieldObject.EnumerateObject().Any())
        {
            throw RegistryException.Invalid($"{field}.fields", """a point action needs "fields", an object with at least one field, e.g. {"value": "{value}", "rule": "{rule}"}""");
        }

        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        int count = 0;
        foreach (var member in fieldObject.EnumerateObject())
        {
            string at = $"{field}.fields.{member.Name}";
            CheckColumn(at, member.Name, "field", names, ++count);
            switch (member.Value.ValueKind)
            {
                case JsonValueKind.Number when member.Value.TryGetDouble(out double number) && double.IsFinite(number):
                case JsonValueKind.True or JsonValueKind.False:
                    break;
                case JsonValueKind.String when member.Value.GetString()!.Length <= MaxTemplateLength:
                    break;
                default:
                    throw RegistryException.Invalid(at, $"a field is a number, true or false, or a string of at most {MaxTemplateLength} characters (templated: {{rule}}, {{device}}, {{value}}, {{value.temperature}}...), not {member.Value.ValueKind.ToString().ToLowerInvariant()}");
            }
        }

        if (tags is null || tags.Value.ValueKind == JsonValueKind.Null)
        {
            return (Compact(fieldObject), null);
        }

        if (tags.Value.ValueKind != JsonValueKind.Object)
        {
            throw RegistryException.Invalid($"{field}.tags", """tags are an object of strings, e.g. {"rule": "{rule}", "device": "{device}"}""");
        }

        foreach (var member in tags.Value.EnumerateObject())
        {
            string at = $"{field}.tags.{member.Name}";
            CheckColumn(at, member.Name, "tag", names, ++count);
            if (member.Value.ValueKind != JsonValueKind.String || member.Value.GetString()!.Length > MaxTemplateLength)
            {
                throw RegistryException.Invalid(at, $"a tag is a string of at most {MaxTemplateLength} characters (templated: {{rule}}, {{device}}...), not {member.Value.ValueKind.ToString().ToLowerInvariant()}");
            }
        }

        return (Compact(fieldObject), Compact(tags.Value));
    }

    /// <summary>The namespace (<c>main</c> when none is written) and the measurement of <c>ns.measurement</c>.</summary>
    public static (string Namespace, string Measurement) Split(string measurement)
    {
        ArgumentNullException.ThrowIfNull(measurement);
        int dot = measurement.IndexOf('.', StringComparison.Ordinal);
        return dot < 0 ? (Namespaces.Default, measurement) : (measurement[..dot], measurement[(dot + 1)..]);
    }

    /// <summary>
    /// The action's point for <paramref name="change"/>: strings templated with <see cref="RuleActions.Fill"/>, a string
    /// that is exactly <c>{value}</c> or <c>{value.NAME}</c> keeps the value's JSON type (a field whose value the alarm
    /// lacks is left out); the time is the triggering point's, or the transition's when the alarm has none (an absence).
    /// </summary>
    public static PointBatch Build(RuleAction action, AlarmEvent change)
    {
        ArgumentNullException.ThrowIfNull(action);
        ArgumentNullException.ThrowIfNull(change);
        var alarm = change.Alarm;
        using var values = ParseValues(alarm.LastValue);
        var batch = new PointBatch(pointCapacity: 1);
        batch.BeginPoint(Encoding.UTF8.GetBytes(Split(action.Measurement!).Measurement), 1);
        if (action.Tags is not null)
        {
            using var tags = JsonDocument.Parse(action.Tags);
            foreach (var tag in tags.RootElement.EnumerateObject())
            {
                string value = RuleActions.Fill(tag.Value.GetString()!, alarm, topic: false);
                if (value.Length > 0)
                {
                    batch.AddTag(batch.AppendText(Encoding.UTF8.GetBytes(tag.Name)), batch.AppendText(Encoding.UTF8.GetBytes(value)));
                }
            }
        }

        using var fields = JsonDocument.Parse(action.Fields!);
        foreach (var field in fields.RootElement.EnumerateObject())
        {
            var key = batch.AppendText(Encoding.UTF8.GetBytes(field.Name));
            var value = field.Value;
            if (value.ValueKind == JsonValueKind.String && ValueOf(values?.RootElement, value.GetString()!) is { } named)
            {
                value = named;
            }
            else if (value.ValueKind == JsonValueKind.String && IsValueReference(value.GetString()!))
            {
                // The alarm has no such value (an absence rule's alarm, a column the condition does not read).
                continue;
            }

            switch (value.ValueKind)
            {
                case JsonValueKind.Number:
                    batch.AddFloat(key, value.GetDouble());
                    break;
                case JsonValueKind.True or JsonValueKind.False:
                    batch.AddBoolean(key, value.GetBoolean());
                    break;
                case JsonValueKind.String:
                    batch.AddString(key, batch.AppendText(Encoding.UTF8.GetBytes(RuleActions.Fill(value.GetString()!, alarm, topic: false))));
                    break;
                default:
                    continue;
            }
        }

        batch.EndPoint(TimeOf(change, values?.RootElement));
        return batch;
    }

    /// <summary>The value a template that is exactly <c>{value}</c> or <c>{value.NAME}</c> names; null otherwise.</summary>
    internal static JsonElement? ValueOf(JsonElement? values, string template)
    {
        if (values is not { ValueKind: JsonValueKind.Object } root || !IsValueReference(template))
        {
            return null;
        }

        if (template == "{value}")
        {
            foreach (var member in root.EnumerateObject())
            {
                if (member.Name != "time_ns")
                {
                    return member.Value.ValueKind == JsonValueKind.Null ? null : member.Value;
                }
            }

            return null;
        }

        string name = template[ValuePrefix.Length..^1];
        foreach (var member in root.EnumerateObject())
        {
            if (string.Equals(member.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return member.Value.ValueKind == JsonValueKind.Null ? null : member.Value;
            }
        }

        return null;
    }

    internal static JsonDocument? ParseValues(string json)
    {
        try
        {
            return JsonDocument.Parse(json);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static bool IsValueReference(string template) =>
        template == "{value}" || (template.StartsWith(ValuePrefix, StringComparison.Ordinal) && template.EndsWith('}') && template.IndexOf('}', StringComparison.Ordinal) == template.Length - 1);

    private static long TimeOf(AlarmEvent change, JsonElement? values)
    {
        if (values is { ValueKind: JsonValueKind.Object } root && root.TryGetProperty("time_ns", out var time) && time.TryGetInt64(out long ns))
        {
            return ns;
        }

        var at = change.Transition == AlarmTransition.Cleared ? change.Alarm.ClearedAt ?? change.Alarm.UpdatedAt : change.Alarm.RaisedAt;
        return (at.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100;
    }

    private static void CheckColumn(string at, string name, string kind, HashSet<string> names, int count)
    {
        if (count > MaxMembers)
        {
            throw RegistryException.Invalid(at, $"a point action has at most {MaxMembers} fields and tags together");
        }

        CheckIdentifier(at, name, kind);
        if (string.Equals(name, SqlNames.TimeColumn, StringComparison.OrdinalIgnoreCase) || string.Equals(name, SqlNames.SeriesIdColumn, StringComparison.OrdinalIgnoreCase))
        {
            throw RegistryException.Invalid(at, $"{kind} name \"{name}\" is reserved (the point's time is the triggering point's); choose another name");
        }

        if (!names.Add(name))
        {
            throw RegistryException.Invalid(at, $"\"{name}\" is named twice among the fields and tags (they share one set of column names, and SQL ignores letter case)");
        }
    }

    private static void CheckIdentifier(string at, string name, string kind)
    {
        bool valid = name.Length is > 0 and <= MaxNameLength && (char.IsAsciiLetter(name[0]) || name[0] == '_');
        foreach (char c in name)
        {
            valid &= char.IsAsciiLetterOrDigit(c) || c == '_';
        }

        if (!valid)
        {
            throw RegistryException.Invalid(at, $"{kind} name \"{Shorten(name)}\" is not an identifier: 1–{MaxNameLength} letters, digits and '_', starting with a letter or '_'");
        }
    }

    private static string Compact(JsonElement element) => JsonSerializer.Serialize(element);

    private static string Shorten(string text) => text.Length <= 40 ? text : string.Concat(text.AsSpan(0, 37), "...");
}
