using System.Globalization;

namespace Plexus.Simulator;

/// <summary>One simulated truck: its tags, fixed for its life (TSBS <c>NewTruck</c>).</summary>
public sealed class Truck
{
    internal Truck(int index, string fleet, string driver, TruckModel model, string deviceVersion)
    {
        Index = index;
        Name = "truck_" + index.ToString(CultureInfo.InvariantCulture);
        Fleet = fleet;
        Driver = driver;
        Model = model;
        DeviceVersion = deviceVersion;
    }

    /// <summary>0-based; the truck's name is <c>truck_{Index}</c>.</summary>
    public int Index { get; }

    public string Name { get; }

    public string Fleet { get; }

    public string Driver { get; }

    public TruckModel Model { get; }

    public string DeviceVersion { get; }

    public float LoadCapacity => Model.LoadCapacity;

    public float FuelCapacity => Model.FuelCapacity;

    public float NominalFuelConsumption => Model.NominalFuelConsumption;

    /// <summary>A string tag's value, or null for the three numeric tags (see <see cref="NumericTag"/>).</summary>
    public string? StringTag(FleetTag tag) => tag switch
    {
        FleetTag.Name => Name,
        FleetTag.Fleet => Fleet,
        FleetTag.Driver => Driver,
        FleetTag.Model => Model.Name,
        FleetTag.DeviceVersion => DeviceVersion,
        _ => null,
    };

    /// <summary>A numeric tag's value, or null for the five string tags.</summary>
    public float? NumericTag(FleetTag tag) => tag switch
    {
        FleetTag.LoadCapacity => Model.LoadCapacity,
        FleetTag.FuelCapacity => Model.FuelCapacity,
        FleetTag.NominalFuelConsumption => Model.NominalFuelConsumption,
        _ => null,
    };

    public override string ToString() =>
        $"{Name} fleet={Fleet} driver={Driver} model={Model.Name} device_version={DeviceVersion}";
}
