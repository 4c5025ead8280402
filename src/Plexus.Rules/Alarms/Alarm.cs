namespace Plexus.Rules.Alarms;

public enum AlarmStatus
{
    Active,
    Acknowledged,
    Cleared,
}

/// <summary>An alarm as the API and SQL show it: a copy, taken under the store's lock.</summary>
public sealed record AlarmRecord(
    long Id,
    string Rule,
    string Device,
    RuleSeverity Severity,
    AlarmStatus Status,
    string RaisedValue,
    string LastValue,
    long Count,
    DateTimeOffset RaisedAt,
    DateTimeOffset EventTime,
    DateTimeOffset? AcknowledgedAt,
    string? AcknowledgedBy,
    DateTimeOffset? ClearedAt,
    string? ClearedBy,
    DateTimeOffset UpdatedAt);

/// <summary>What happened to an alarm, for the actions that follow it.</summary>
public enum AlarmTransition
{
    Opened,
    Acknowledged,
    Cleared,
}

public sealed record AlarmEvent(AlarmTransition Transition, AlarmRecord Alarm);

/// <summary>
/// An open alarm as the store and the engine share it: the engine holds it per rule and device, the store changes it
/// under its lock. <see cref="IsOpen"/> is read without the lock: a clear from the API is seen by the engine's next look.
/// </summary>
public sealed class Alarm
{
    private volatile bool _open = true;

    internal Alarm(AlarmRecord record)
    {
        Record = record;
        _open = record.Status != AlarmStatus.Cleared;
    }

    public long Id => Record.Id;

    public bool IsOpen => _open;

    internal AlarmRecord Record { get; set; }

    internal void MarkCleared() => _open = false;
}
