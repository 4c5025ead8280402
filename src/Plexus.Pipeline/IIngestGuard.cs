using Plexus.Core;

namespace Plexus.Pipeline;

/// <summary>
/// A check of the authorise stage: before anything is stored, refuses points no source may write (reserved names).
/// Checks that depend on who is writing (scopes, a device's own topics and allow-list) belong to the source.
/// </summary>
public interface IIngestGuard
{
    /// <summary>
    /// Returns the batch to store: <paramref name="batch"/> itself when every point passes (the usual case, decided
    /// without allocating), else a copy without the refused points, whose reasons are added to <paramref name="refused"/>
    /// (created on the first refusal, so a write that passes costs no list).
    /// </summary>
    PointBatch Check(string ns, PointBatch batch, ref List<LineError>? refused);
}
