using Plexus.Devices;
using Plexus.Ingest.State;

namespace Plexus.Pipeline.Devices;

/// <summary>
/// A decoded state message in the live state's terms. Plexus.Ingest knows no registry (it is free of DuckDB), so
/// <see cref="StatePayload"/> has its own property type and this is the one place the two meet.
/// </summary>
internal static class ReportedProperties
{
    public static List<ReportedProperty> From(List<StateProperty> decoded)
    {
        var properties = new List<ReportedProperty>(decoded.Count);
        foreach (var property in decoded)
        {
            properties.Add(new ReportedProperty(property.Name, property.Value, property.Number, KindOf(property.Kind)));
        }

        return properties;
    }

    public static ReportedKind KindOf(StateValueKind kind) => kind switch
    {
        StateValueKind.String => ReportedKind.String,
        StateValueKind.Number => ReportedKind.Number,
        StateValueKind.Boolean => ReportedKind.Boolean,
        StateValueKind.Null => ReportedKind.Null,
        StateValueKind.Json => ReportedKind.Json,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "a state value kind the live state does not know"),
    };
}
