using System.Text;
using Plexus.Core;
using Plexus.Devices;

namespace Plexus.Api.Auth;

/// <summary>
/// Points written over HTTP with a device token belong to that device: every point gets the tag
/// <c>device=&lt;id&gt;</c>, and a <c>device</c> tag of the line (any letter case) is replaced, as the MQTT line
/// protocol topic does. The points are copied into a second, reused batch; no allocation per point once its arrays
/// have grown. A device with a measurement allow-list in the registry has its other points refused here, line by line.
/// </summary>
public static class DeviceAttribution
{
    private static ReadOnlySpan<byte> DeviceKey => "device"u8;

    public static void CopyWithDevice(PointBatch source, ReadOnlySpan<byte> deviceIdUtf8, PointBatch target) =>
        CopyWithDevice(source, deviceIdUtf8, target, allowed: null, refused: null);

    /// <param name="allowed">The device's allow-list, or null when it may write any measurement.</param>
    /// <param name="refused">Gets a line error for each point of a measurement <paramref name="allowed"/> does not hold.</param>
    public static void CopyWithDevice(PointBatch source, ReadOnlySpan<byte> deviceIdUtf8, PointBatch target, MeasurementAllowList? allowed, List<LineError>? refused)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        for (int i = 0; i < source.Count; i++)
        {
            ref readonly PointEntry point = ref source[i];
            if (allowed is not null && !allowed.Allows(source.Text(point.Measurement)))
            {
                refused?.Add(LineError.ForPoint(source, point,
                    allowed.Refusal(Encoding.UTF8.GetString(deviceIdUtf8), source.Text(point.Measurement))));
                continue;
            }

            target.AppendPoint(source, i, DeviceKey, deviceIdUtf8);
        }
    }
}
