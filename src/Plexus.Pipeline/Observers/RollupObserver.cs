using Plexus.Storage.Rollups;
using Plexus.Storage.Writing;

namespace Plexus.Pipeline.Observers;

/// <summary>
/// Notes the rollup windows each durable write touches (docs/storage.md#rollups) for the maintainer, which recomputes
/// them off the writer's thread. With no rollup in the write's namespace it costs one dictionary lookup per write.
/// </summary>
public sealed class RollupObserver(RollupMaintainer maintainer) : IIngestObserver
{
    public string Name => "rollups";

    public void OnStored(in CommittedWrite write) => maintainer.Observe(in write);
}
