using Plexus.Devices;
using Plexus.Rules.Expressions;

namespace Plexus.Rules.Engine;

/// <summary>The live device state as rules read it: <c>state.*</c> and <c>position.*</c>.</summary>
public sealed class LiveStateFacts(DeviceLiveState state) : IRuleStateSource
{
    public bool TryGetReported(string device, string property, out ReportedKind kind, out string value, out double? number) =>
        state.TryGetReported(device, property, out kind, out value, out number);

    public bool TryGetPosition(string device, out double lat, out double lon) => state.TryGetPosition(device, out lat, out lon);
}
