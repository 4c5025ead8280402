using System.Text.Json;

namespace Plexus.Rules.Alarms;

/// <summary>An alarm's JSON members, the same for the HTTP API, webhooks and MQTT messages.</summary>
public static class AlarmJson
{
    /// <summary>Writes the members (not the enclosing object); the values are JSON objects: the columns the rule reads and the point's time.</summary>
    public static void WriteMembers(Utf8JsonWriter json, AlarmRecord alarm)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(alarm);
        json.WriteNumber("id", alarm.Id);
        json.WriteString("rule", alarm.Rule);
        json.WriteString("device", alarm.Device);
        json.WriteString("severity", AlarmStore.Text(alarm.Severity));
        json.WriteString("status", AlarmStore.Text(alarm.Status));
        json.WritePropertyName("raised_value");
        json.WriteRawValue(alarm.RaisedValue);
        json.WritePropertyName("last_value");
        json.WriteRawValue(alarm.LastValue);
        json.WriteNumber("count", alarm.Count);
        json.WriteString("raised_at", alarm.RaisedAt.UtcDateTime);
        json.WriteString("event_time", alarm.EventTime.UtcDateTime);
        WriteOptional(json, "acknowledged_at", alarm.AcknowledgedAt);
        json.WriteString("acknowledged_by", alarm.AcknowledgedBy);
        WriteOptional(json, "cleared_at", alarm.ClearedAt);
        json.WriteString("cleared_by", alarm.ClearedBy);
        json.WriteString("updated_at", alarm.UpdatedAt.UtcDateTime);
    }

    private static void WriteOptional(Utf8JsonWriter json, string name, DateTimeOffset? value)
    {
        if (value is { } time)
        {
            json.WriteString(name, time.UtcDateTime);
        }
        else
        {
            json.WriteNull(name);
        }
    }
}
