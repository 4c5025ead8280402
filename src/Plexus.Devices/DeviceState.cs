namespace Plexus.Devices;

/// <summary>How a reported property value was written in JSON; decides its JSON form in answers and <c>value_num</c>.</summary>
public enum ReportedKind
{
    String,
    Number,
    Boolean,
    Null,

    /// <summary>An array, kept as its JSON text.</summary>
    Json,
}

/// <summary>One reported property of a state message: the flattened name (<c>a_b</c> for <c>{"a": {"b": …}}</c>) and its value.</summary>
public sealed record ReportedProperty(string Name, string Value, double? Number, ReportedKind Kind);

/// <summary>The live value of a property and the time it was reported.</summary>
public sealed record PropertySnapshot(string Value, double? Number, ReportedKind Kind, DateTimeOffset Time);

/// <summary>The newest known position of a device (by position time, not arrival).</summary>
public sealed record PositionSnapshot(double Lat, double Lon, DateTimeOffset Time);

/// <summary>A device's live state as <c>GET /api/v1/devices/{id}</c> shows it.</summary>
public sealed record DeviceStateSnapshot(
    string Device,
    bool Online,
    DateTimeOffset? LastSeen,
    string? LastConnectivityReason,
    DateTimeOffset? LastConnectivityTime,
    IReadOnlyDictionary<string, PropertySnapshot> Properties,
    PositionSnapshot? Position,
    long DeadLetters);

/// <summary>What a state message changed.</summary>
public readonly record struct StateChangeResult(int Reported, int Changed, string? Error);
