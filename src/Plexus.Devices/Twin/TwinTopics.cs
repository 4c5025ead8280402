namespace Plexus.Devices.Twin;

/// <summary>
/// The MQTT topics of desired properties and commands (docs/mqtt.md#desired-properties-and-commands):
/// <c>devices/&lt;id&gt;/desired</c> and <c>devices/&lt;id&gt;/commands/&lt;name&gt;</c>, which only Plexus publishes to,
/// and <c>devices/&lt;id&gt;/responses/&lt;command id&gt;</c>, where only the device itself answers.
/// </summary>
public static class TwinTopics
{
    private const string Prefix = "devices/";

    public static string Desired(string device) => $"{Prefix}{device}/desired";

    public static string Command(string device, string name) => $"{Prefix}{device}/commands/{name}";

    public static string Response(string device, string commandId) => $"{Prefix}{device}/responses/{commandId}";

    /// <summary>
    /// True for <c>devices/&lt;id&gt;/desired</c> and <c>devices/&lt;id&gt;/commands</c> or anything under it: topics
    /// that only Plexus publishes to. Cheap: one prefix check, then the level after the id.
    /// </summary>
    public static bool IsServerOnly(string? topic) => TryLevelAfterId(topic, out var level) && (level.SequenceEqual("desired") || level.SequenceEqual("commands") || level.StartsWith("commands/"));

    /// <summary>True for <c>devices/&lt;id&gt;/responses</c> or anything under it: topics only the device itself publishes to.</summary>
    public static bool IsResponse(string? topic) => TryLevelAfterId(topic, out var level) && (level.SequenceEqual("responses") || level.StartsWith("responses/"));

    /// <summary>The device and command id of <c>devices/&lt;id&gt;/responses/&lt;command id&gt;</c>; false for any other topic.</summary>
    public static bool TryParseResponse(string? topic, out string device, out string commandId)
    {
        device = commandId = string.Empty;
        if (!IsResponse(topic))
        {
            return false;
        }

        string[] levels = topic!.Split('/');
        if (levels.Length != 4 || levels[3].Length == 0)
        {
            return false;
        }

        (device, commandId) = (levels[1], levels[3]);
        return true;
    }

    private static bool TryLevelAfterId(string? topic, out ReadOnlySpan<char> rest)
    {
        rest = default;
        if (topic is null || !topic.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var afterPrefix = topic.AsSpan(Prefix.Length);
        int slash = afterPrefix.IndexOf('/');
        if (slash <= 0)
        {
            return false;
        }

        rest = afterPrefix[(slash + 1)..];
        return true;
    }
}
