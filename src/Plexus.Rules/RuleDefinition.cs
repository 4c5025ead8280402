using System.Globalization;

namespace Plexus.Rules;

/// <summary>How serious an alarm is, most serious first.</summary>
public enum RuleSeverity
{
    Critical,
    Major,
    Minor,
    Warning,
    Info,
}

/// <summary>
/// What a rule does when its alarm opens or clears: call a webhook, publish on MQTT, write a derived point, patch the
/// device's desired properties or send it a command (docs/rules.md#actions).
/// </summary>
public sealed record RuleAction(string Type, string? Url = null, string? Topic = null, TimeSpan? Timeout = null, string? Payload = null)
{
    public const string Webhook = "webhook";
    public const string Mqtt = "mqtt";
    public const string Point = "point";
    public const string Desired = "desired";
    public const string Command = "command";

    /// <summary>A point action's measurement as written: <c>alarm_events</c> (namespace main) or <c>plant.alarm_events</c>.</summary>
    public string? Measurement { get; init; }

    /// <summary>A point action's fields, a JSON object's compact text: numbers, booleans and (templated) strings.</summary>
    public string? Fields { get; init; }

    /// <summary>A point action's tags, a JSON object's compact text of (templated) strings; null for none.</summary>
    public string? Tags { get; init; }

    /// <summary>
    /// JSON text whose strings are templated: the merge patch of a desired action, the payload of a command action
    /// (<see cref="Payload"/> is the MQTT action's payload template, plain text).
    /// </summary>
    public string? Json { get; init; }

    /// <summary>A command action's command name.</summary>
    public string? Name { get; init; }

    /// <summary>Where a failed action is recorded as having gone: the url, topic, measurement or device twin part.</summary>
    public string Target => Type switch
    {
        Webhook => Url!,
        Mqtt => Topic!,
        Point => Measurement!,
        Desired => "desired",
        _ => "commands/" + Name,
    };
}

/// <summary>
/// A rule as its author wrote it (docs/rules.md): which measurement it watches, the condition, how long it must hold,
/// what clears it, how serious it is and what to do. <see cref="Where"/> and <see cref="ClearWhen"/> are the SQL text;
/// the engine compiles them.
/// </summary>
public sealed record RuleDefinition
{
    public required string Name { get; init; }

    /// <summary>The measurement as written: <c>telemetry</c> (in namespace main) or <c>plant.telemetry</c>.</summary>
    public required string From { get; init; }

    public string? Where { get; init; }

    /// <summary>How long (in event time) the condition must hold before the alarm opens; zero: at once.</summary>
    public TimeSpan For { get; init; }

    /// <summary>What clears an open alarm; null: the condition no longer holds.</summary>
    public string? ClearWhen { get; init; }

    /// <summary>Opens an alarm when a device sends nothing (that <see cref="Where"/> lets through) for this long (server clock).</summary>
    public TimeSpan? AbsentFor { get; init; }

    public RuleSeverity Severity { get; init; } = RuleSeverity.Warning;

    public string? Description { get; init; }

    public IReadOnlyList<RuleAction> Actions { get; init; } = [];

    public string Namespace => From.Contains('.', StringComparison.Ordinal) ? From[..From.IndexOf('.', StringComparison.Ordinal)] : "main";

    public string Measurement => From.Contains('.', StringComparison.Ordinal) ? From[(From.IndexOf('.', StringComparison.Ordinal) + 1)..] : From;
}

/// <summary>Durations as rules write them: <c>500ms</c>, <c>30s</c>, <c>5m</c>, <c>1h30m</c>, <c>2d</c>.</summary>
public static class RuleDurations
{
    public static bool TryParse(string? text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var span = text.AsSpan().Trim();
        long totalMs = 0;
        while (!span.IsEmpty)
        {
            int digits = 0;
            while (digits < span.Length && char.IsAsciiDigit(span[digits]))
            {
                digits++;
            }

            if (digits == 0 || digits > 9 || !long.TryParse(span[..digits], NumberStyles.None, CultureInfo.InvariantCulture, out long amount))
            {
                return false;
            }

            span = span[digits..];
            int unitLength = 0;
            while (unitLength < span.Length && char.IsAsciiLetter(span[unitLength]))
            {
                unitLength++;
            }

            long unitMs = span[..unitLength] switch
            {
                "ms" => 1,
                "s" => 1000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => 0,
            };
            if (unitMs == 0)
            {
                return false;
            }

            totalMs += amount * unitMs;
            span = span[unitLength..];
        }

        duration = TimeSpan.FromMilliseconds(totalMs);
        return true;
    }

    public static string Format(TimeSpan duration)
    {
        long ms = (long)duration.TotalMilliseconds;
        if (ms == 0)
        {
            return "0s";
        }

        var parts = new System.Text.StringBuilder();
        foreach (var (unit, size) in new[] { ("d", 86_400_000L), ("h", 3_600_000L), ("m", 60_000L), ("s", 1000L), ("ms", 1L) })
        {
            if (ms >= size)
            {
                parts.Append(CultureInfo.InvariantCulture, $"{ms / size}{unit}");
                ms %= size;
            }
        }

        return parts.ToString();
    }
}
