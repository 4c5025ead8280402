using Plexus.Core;

namespace Plexus.Rules.Engine;

/// <summary>One unit of the engine's queue: the stored points of one write that some rule watches, or a clock tick.</summary>
public sealed class RuleWork
{
    internal static readonly RuleWork Tick = new(string.Empty, null, RuleSet.Empty);

    internal RuleWork(string ns, PointBatch? batch, RuleSet set)
    {
        Namespace = ns;
        Batch = batch;
        Set = set;
    }

    internal string Namespace { get; }

    internal PointBatch? Batch { get; }

    internal RuleSet Set { get; }
}

/// <summary>What the engine has done since it started.</summary>
/// <remarks><see cref="Points"/> counts points evaluated by at least one rule, <see cref="LatePoints"/> each (rule, point) that came late.</remarks>
public sealed record RuleEngineStatistics(int Rules, long Points, long LatePoints, long Dropped, int Waiting, long UntrackedKeys, long ClockChecks, long DroppedPoints);
