namespace Plexus.Devices;

/// <summary>
/// The measurement names of namespace <c>main</c> that no write may use: the names of Plexus's SQL views (devices,
/// assets, their history and ancestry, geofences, device_positions, audit_log) and of the device data the broker writes
/// itself. The ingest pipeline refuses points for them (its reserved-measurement guard).
/// </summary>
public static class ReservedMeasurements
{
    public const string Namespace = "main";

    /// <summary>The measurements the broker writes itself; a foreign row would corrupt the live state they feed.</summary>
    private static readonly string[] DeviceDataReserved = [DeviceDataNames.DeviceState, DeviceDataNames.StateHistory, DeviceDataNames.DeadLetters, Twin.DesiredProperties.ViewName, Twin.DeviceCommands.ViewName];

    /// <summary>The rule engine's views: its rules, alarms, their transitions and the actions that failed for good.</summary>
    private static readonly string[] RulesReserved = ["rules", "alarms", "alarm_history", "rule_dead_letters"];

    /// <summary>Every reserved name, in lower case.</summary>
    public static readonly IReadOnlyList<string> Names = [.. DeviceLinks.ViewNames.Concat(RelationsSql.ViewNames).Append("geofences").Append("device_positions").Append(Storage.AuditLog.ViewName).Append(Storage.Retention.RetentionPolicies.ViewName).Append(Storage.Cold.ColdStore.PartitionsViewName).Append(Storage.Rollups.RollupRegistry.ViewName).Concat(RulesReserved).Concat(DeviceDataReserved).Distinct()];

    /// <summary>True when <paramref name="name"/> is one of <see cref="Names"/>, in any letter case.</summary>
    public static bool IsReservedName(string name) => Names.Contains(name, StringComparer.OrdinalIgnoreCase);

    /// <summary>Why a point for <paramref name="name"/> is refused, and what to do instead.</summary>
    public static string Reason(string name) =>
        DeviceDataReserved.Contains(name, StringComparer.OrdinalIgnoreCase)
            ? $"measurement \"{name.ToLowerInvariant()}\" in namespace \"{Namespace}\" is reserved for device data the broker writes (docs/sql.md#device-data); write to another measurement or namespace"
            : string.Equals(name, Storage.AuditLog.ViewName, StringComparison.OrdinalIgnoreCase)
                ? $"measurement \"{name}\" in namespace \"{Namespace}\" is reserved for the audit log's SQL view; write to another measurement or namespace"
            : string.Equals(name, Storage.Retention.RetentionPolicies.ViewName, StringComparison.OrdinalIgnoreCase)
                ? $"measurement \"{name}\" in namespace \"{Namespace}\" is reserved for the retention policies' SQL view (docs/storage.md#retention); write to another measurement or namespace"
            : string.Equals(name, Storage.Rollups.RollupRegistry.ViewName, StringComparison.OrdinalIgnoreCase)
                ? $"measurement \"{name}\" in namespace \"{Namespace}\" is reserved for the rollups' SQL view (docs/storage.md#rollups); write to another measurement or namespace"
            : string.Equals(name, Storage.Cold.ColdStore.PartitionsViewName, StringComparison.OrdinalIgnoreCase)
                ? $"measurement \"{name}\" in namespace \"{Namespace}\" is reserved for the partitions' SQL view (docs/storage.md#hot-and-cold-tiers); write to another measurement or namespace"
                : RulesReserved.Contains(name, StringComparer.OrdinalIgnoreCase)
                    ? $"measurement \"{name.ToLowerInvariant()}\" in namespace \"{Namespace}\" is reserved for the rule engine's SQL view (docs/rules.md); write to another measurement or namespace"
                    : $"measurement \"{name}\" in namespace \"{Namespace}\" is reserved for the device registry's SQL view; write to another measurement or namespace";

}
