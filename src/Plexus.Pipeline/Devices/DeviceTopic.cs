namespace Plexus.Pipeline.Devices;

/// <summary>The data topics of a device (docs/mqtt.md): what each one carries and how it is stored.</summary>
public enum DeviceTopicKind
{
    /// <summary><c>devices/&lt;id&gt;/telemetry[/&lt;measurement&gt;]</c>: JSON, or SenML with MQTT 5 content type <c>application/senml+json</c>.</summary>
    Telemetry,

    /// <summary><c>devices/&lt;id&gt;/senml</c>: a SenML JSON pack.</summary>
    SenMl,

    /// <summary><c>devices/&lt;id&gt;/lp</c>: InfluxDB line protocol; the device id is added as the <c>device</c> tag.</summary>
    LineProtocol,

    /// <summary><c>devices/&lt;id&gt;/location</c>: a JSON position (or an array of them), stored in <c>positions</c>.</summary>
    Location,

    /// <summary><c>devices/&lt;id&gt;/state</c>: a JSON object of reported properties, merged into the live state.</summary>
    State,
}

/// <summary>A parsed device data topic. Any other topic is plain publish/subscribe and is not stored.</summary>
public readonly record struct DeviceTopic(DeviceTopicKind Kind, string DeviceId, string Measurement)
{
    public const string Prefix = "devices/";
    public const string DefaultTelemetryMeasurement = "telemetry";
    public const string SenMlMeasurement = "senml";

    /// <summary>
    /// Recognises <c>devices/&lt;id&gt;/telemetry</c>, <c>devices/&lt;id&gt;/telemetry/&lt;measurement&gt;</c>,
    /// <c>devices/&lt;id&gt;/senml</c>, <c>devices/&lt;id&gt;/lp</c>, <c>devices/&lt;id&gt;/location</c> and
    /// <c>devices/&lt;id&gt;/state</c>, with non-empty levels. Anything else
    /// (other kinds, deeper topics) is false: the broker forwards it and stores nothing.
    /// </summary>
    /// <summary>The topic this was parsed from (for a measurement named like the default, its shorter spelling).</summary>
    public string Name() => Kind switch
    {
        DeviceTopicKind.Telemetry when Measurement == DefaultTelemetryMeasurement => $"{Prefix}{DeviceId}/telemetry",
        DeviceTopicKind.Telemetry => $"{Prefix}{DeviceId}/telemetry/{Measurement}",
        DeviceTopicKind.SenMl => $"{Prefix}{DeviceId}/senml",
        DeviceTopicKind.LineProtocol => $"{Prefix}{DeviceId}/lp",
        DeviceTopicKind.Location => $"{Prefix}{DeviceId}/location",
        _ => $"{Prefix}{DeviceId}/state",
    };

    public static bool TryParse(string? topic, out DeviceTopic result)
    {
        result = default;
        if (topic is null || !topic.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        ReadOnlySpan<char> rest = topic.AsSpan(Prefix.Length);
        int slash = rest.IndexOf('/');
        if (slash <= 0)
        {
            return false;
        }

        ReadOnlySpan<char> id = rest[..slash];
        ReadOnlySpan<char> kind = rest[(slash + 1)..];
        string? measurement = null;
        int next = kind.IndexOf('/');
        if (next >= 0)
        {
            ReadOnlySpan<char> name = kind[(next + 1)..];
            kind = kind[..next];
            if (!kind.SequenceEqual("telemetry") || name.IsEmpty || name.Contains('/'))
            {
                return false;
            }

            measurement = name.ToString();
        }

        switch (kind)
        {
            case "telemetry":
                result = new DeviceTopic(DeviceTopicKind.Telemetry, id.ToString(), measurement ?? DefaultTelemetryMeasurement);
                return true;
            case "senml":
                result = new DeviceTopic(DeviceTopicKind.SenMl, id.ToString(), SenMlMeasurement);
                return true;
            case "lp":
                result = new DeviceTopic(DeviceTopicKind.LineProtocol, id.ToString(), string.Empty);
                return true;
            case "location":
                result = new DeviceTopic(DeviceTopicKind.Location, id.ToString(), Plexus.Devices.DeviceDataNames.Positions);
                return true;
            case "state":
                result = new DeviceTopic(DeviceTopicKind.State, id.ToString(), Plexus.Devices.DeviceDataNames.StateHistory);
                return true;
            default:
                return false;
        }
    }
}
