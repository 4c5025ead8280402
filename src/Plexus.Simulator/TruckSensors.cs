using System.Runtime.CompilerServices;

namespace Plexus.Simulator;

/// <summary>
/// The state of one truck's ten TSBS distributions and the random stream that drives them. A struct in an array
/// so a tick over a thousand trucks walks memory in order.
/// </summary>
/// <remarks>
/// Generators, from <c>readings.go</c> / <c>diagnostics.go</c> / <c>common/distribution.go</c> (anchors §1.2):
/// <code>
///   readings.latitude          FP(CWD(UD(-0.005, 0.005), -90,  90, U·90),  5)
///   readings.longitude         FP(CWD(UD(-0.005, 0.005), -180, 180, U·180), 5)
///   readings.elevation         FP(CWD(UD(-10, 10),  0, 5000, U·500), 0)
///   readings.velocity          FP(CWD(UD(-10, 10),  0, 100,  0),     0)
///   readings.heading           FP(CWD(UD(-5, 5),    0, 360,  U·360), 0)
///   readings.grade             FP(CWD(UD(-5, 5),    0, 100,  0),     0)
///   readings.fuel_consumption  FP(CWD(UD(-5, 5),    0, 50,   25),    1)
///   diagnostics.fuel_state     FP(CWD(UD(-0.001, 0), 0, 1, 1) with refuel to 1 on reaching 0, 1)
///   diagnostics.current_load   FP(LD(UD(0, 1), UD(0, 5000), 0.95), 0)     (UD starts at 0)
///   diagnostics.status         FP(CWD(ND(0, 1), 0, 5, 0), 0) as int64
/// </code>
/// CWD adds the step then clamps; FP truncates toward zero (Go <c>int()</c>, C# <c>(long)</c>). Draw order per tick is
/// TSBS's: the seven readings walks, then fuel, the load's motive (and its new value when the motive is ≥ 0.95),
/// then the status step. The first tick's row shows the initial states, as in TSBS (the base simulator ticks
/// only from the second epoch on).
/// </remarks>
internal struct TruckSensors
{
    public Xoshiro256StarStar Random;
    public double Latitude;
    public double Longitude;
    public double Elevation;
    public double Velocity;
    public double Heading;
    public double Grade;
    public double FuelConsumption;
    public double FuelState;
    public double CurrentLoad;
    public double Status;

    /// <summary>Initial states, drawn in TSBS order (readings' distribution makers run before the tags are chosen).</summary>
    public static TruckSensors Create(Xoshiro256StarStar random)
    {
        var sensors = new TruckSensors { Random = random };
        sensors.Latitude = sensors.Random.NextDouble() * 90.0;
        sensors.Longitude = sensors.Random.NextDouble() * 180.0;
        sensors.Elevation = sensors.Random.NextDouble() * 500.0;
        sensors.Velocity = 0;
        sensors.Heading = sensors.Random.NextDouble() * 360.0;
        sensors.Grade = 0;
        sensors.FuelConsumption = 25; // maxFuelConsumption / 2
        sensors.FuelState = 1.0;
        sensors.CurrentLoad = 0; // LD returns its UD's value, which is 0 until the first time the motive fires.
        sensors.Status = 0;
        return sensors;
    }

    public void Advance()
    {
        Latitude = Walk(Latitude, Uniform(-0.005, 0.005), -90.0, 90.0);
        Longitude = Walk(Longitude, Uniform(-0.005, 0.005), -180.0, 180.0);
        Elevation = Walk(Elevation, Uniform(-10, 10), 0, 5000.0);
        Velocity = Walk(Velocity, Uniform(-10, 10), 0, 100);
        Heading = Walk(Heading, Uniform(-5, 5), 0, 360.0);
        Grade = Walk(Grade, Uniform(-5, 5), 0, 100.0);
        FuelConsumption = Walk(FuelConsumption, Uniform(-5, 5), 0, 50);

        FuelState = Walk(FuelState, Uniform(-0.001, 0), 0, 1.0);
        if (FuelState == 0)
        {
            FuelState = 1.0; // customFuelDistribution: refuel when the walk hits its minimum.
        }

        if (Random.NextDouble() >= 0.95)
        {
            CurrentLoad = Uniform(0, 5000.0);
        }

        Status = Walk(Status, Random.NextNormal(), 0, 5);
    }

    public readonly void WriteReadings(ref FleetRow row)
    {
        row.Values[0] = (long)(Latitude * 100000.0);
        row.Values[1] = (long)(Longitude * 100000.0);
        row.Values[2] = (long)Elevation;
        row.Values[3] = (long)Velocity;
        row.Values[4] = (long)Heading;
        row.Values[5] = (long)Grade;
        row.Values[6] = (long)(FuelConsumption * 10.0);
    }

    public readonly void WriteDiagnostics(ref FleetRow row)
    {
        row.Values[0] = (long)(FuelState * 10.0);
        row.Values[1] = (long)CurrentLoad;
        row.Values[2] = (long)Status;
    }

    /// <summary>TSBS <c>UD.Advance</c>, operation for operation: <c>x = U; x *= high − low; x += low</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private double Uniform(double low, double high)
    {
        double x = Random.NextDouble();
        x *= high - low;
        x += low;
        return x;
    }

    /// <summary>TSBS <c>ClampedRandomWalkDistribution.Advance</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Walk(double state, double step, double min, double max)
    {
        state += step;
        if (state > max)
        {
            state = max;
        }

        if (state < min)
        {
            state = min;
        }

        return state;
    }
}
