using System.Collections.ObjectModel;

namespace Plexus.Simulator;

/// <summary>The two measurements of the TSBS IoT use case; every truck reports one row of each per tick.</summary>
public enum FleetMeasurement : byte
{
    /// <summary>`readings`: position and driving (7 float fields).</summary>
    Readings = 0,

    /// <summary>`diagnostics`: fuel, load and status (2 float fields, 1 integer field).</summary>
    Diagnostics = 1,
}

/// <summary>The eight TSBS truck tags, in TSBS order (the order a nil tag's index is drawn in).</summary>
public enum FleetTag : byte
{
    Name = 0,
    Fleet = 1,
    Driver = 2,
    Model = 3,
    DeviceVersion = 4,

    /// <summary>Numeric, derived from the model; line protocol carries it as a field (TSBS "fake tag").</summary>
    LoadCapacity = 5,

    /// <summary>Numeric, derived from the model; line protocol carries it as a field.</summary>
    FuelCapacity = 6,

    /// <summary>Numeric, derived from the model; line protocol carries it as a field.</summary>
    NominalFuelConsumption = 7,
}

public enum FleetFieldType : byte
{
    Float,
    Integer,
}

/// <summary>
/// One measurement field: its name, the decimals TSBS truncates it to (<c>FP(d, p)</c>), its type and the bounds
/// of its clamped random walk.
/// </summary>
public sealed record FleetField(string Name, int Decimals, FleetFieldType Type, double Minimum, double Maximum);

/// <summary>A truck model and the three numeric tags TSBS derives from it (<c>truck.go</c>, <c>modelChoices</c>).</summary>
public sealed record TruckModel(string Name, float LoadCapacity, float FuelCapacity, float NominalFuelConsumption);

/// <summary>
/// The TSBS IoT schema and value sets, from <c>pkg/data/usecases/iot/{truck,readings,diagnostics}.go</c>
/// (see the shared reference performance-anchors.md §1.2). Field order is TSBS order: it is the order of
/// line-protocol fields and the order a NULL field's index is drawn in.
/// </summary>
public static class FleetSchema
{
    public const string ReadingsName = "readings";
    public const string DiagnosticsName = "diagnostics";

    /// <summary>Fields of the widest measurement; TSBS draws the NULL field's index from this many (then mod the row's count).</summary>
    public const int MaxFieldCount = 7;

    public const int TagCount = 8;

    public static ReadOnlyCollection<FleetField> ReadingsFields { get; } = new(
    [
        new("latitude", 5, FleetFieldType.Float, -90, 90),
        new("longitude", 5, FleetFieldType.Float, -180, 180),
        new("elevation", 0, FleetFieldType.Float, 0, 5000),
        new("velocity", 0, FleetFieldType.Float, 0, 100),
        new("heading", 0, FleetFieldType.Float, 0, 360),
        new("grade", 0, FleetFieldType.Float, 0, 100),
        new("fuel_consumption", 1, FleetFieldType.Float, 0, 50),
    ]);

    public static ReadOnlyCollection<FleetField> DiagnosticsFields { get; } = new(
    [
        new("fuel_state", 1, FleetFieldType.Float, 0, 1),
        new("current_load", 0, FleetFieldType.Float, 0, 5000),
        new("status", 0, FleetFieldType.Integer, 0, 5),
    ]);

    public static ReadOnlyCollection<string> TagKeys { get; } = new(
        ["name", "fleet", "driver", "model", "device_version", "load_capacity", "fuel_capacity", "nominal_fuel_consumption"]);

    public static ReadOnlyCollection<string> Fleets { get; } = new(["East", "West", "North", "South"]);

    public static ReadOnlyCollection<string> Drivers { get; } = new(["Derek", "Rodney", "Albert", "Andy", "Seth", "Trish"]);

    public static ReadOnlyCollection<string> DeviceVersions { get; } = new(["v1.0", "v1.5", "v2.0", "v2.3"]);

    public static ReadOnlyCollection<TruckModel> Models { get; } = new(
    [
        new("F-150", 2000, 200, 15),
        new("G-2000", 5000, 300, 19),
        new("H-2", 1500, 150, 12),
    ]);

    public static string MeasurementName(FleetMeasurement measurement) =>
        measurement == FleetMeasurement.Readings ? ReadingsName : DiagnosticsName;

    public static ReadOnlyCollection<FleetField> Fields(FleetMeasurement measurement) =>
        measurement == FleetMeasurement.Readings ? ReadingsFields : DiagnosticsFields;

    public static int FieldCount(FleetMeasurement measurement) =>
        measurement == FleetMeasurement.Readings ? 7 : 3;
}
