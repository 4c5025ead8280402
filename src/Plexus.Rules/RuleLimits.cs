namespace Plexus.Rules;

/// <summary>
/// How much a rule's windows may remember (docs/rules.md#limits): per device, per <c>count_within</c> call, and in all for
/// one rule across its devices. The first two are checked when a rule is saved; the last when a device is first seen.
/// </summary>
public sealed record RuleLimits
{
    public const int DefaultWindowBytesPerDevice = 65_536;
    public const int DefaultCountWithinTimes = 4_096;
    public const long DefaultStateBytesPerRule = 1L << 30;

    public static readonly RuleLimits Default = new();

    /// <summary>What the windows of one expression may hold per device at most (<c>--rules-max-window-bytes</c>).</summary>
    public int WindowBytesPerDevice { get; init; } = DefaultWindowBytesPerDevice;

    /// <summary>The point times one <c>count_within</c> call keeps per device (<c>--rules-max-count-within</c>).</summary>
    public int CountWithinTimes { get; init; } = DefaultCountWithinTimes;

    /// <summary>
    /// What one rule's windows may hold across all its devices, at their most (<c>--rules-max-state-bytes</c>): a
    /// rule whose devices would need more tracks no new device (its points are not evaluated, counted and logged).
    /// </summary>
    public long StateBytesPerRule { get; init; } = DefaultStateBytesPerRule;
}
