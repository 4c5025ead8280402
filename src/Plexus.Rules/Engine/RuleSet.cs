using System.Text;
using Plexus.Core;
using Plexus.Rules.Expressions;

namespace Plexus.Rules.Engine;

/// <summary>
/// The compiled rules that are not paused, indexed for the writer thread: by namespace, then by the measurement's name
/// in lower case (SQL names are case-insensitive, and the store keeps one spelling). Immutable; replaced whole when a
/// rule changes.
/// </summary>
internal sealed class RuleSet
{
    public static readonly RuleSet Empty = new([], []);

    private readonly Dictionary<string, Utf8Map<CompiledRule[]>> _byNamespace;

    private RuleSet(Dictionary<string, Utf8Map<CompiledRule[]>> byNamespace, CompiledRule[] all)
    {
        _byNamespace = byNamespace;
        All = all;
        Absence = [.. all.Where(r => r.IsAbsence)];
    }

    public CompiledRule[] All { get; }

    public CompiledRule[] Absence { get; }

    public bool IsEmpty => All.Length == 0;

    public static RuleSet Of(IReadOnlyList<CompiledRule> rules)
    {
        var byNamespace = new Dictionary<string, Utf8Map<CompiledRule[]>>(StringComparer.OrdinalIgnoreCase);
        foreach (var group in rules.GroupBy(r => (Namespace: r.Namespace.ToLowerInvariant(), Measurement: string.Create(r.Definition.Measurement.Length, r.Definition.Measurement, (span, text) =>
        {
            for (int i = 0; i < text.Length; i++)
            {
                span[i] = char.IsAsciiLetterUpper(text[i]) ? (char)(text[i] + 32) : text[i];
            }
        }))))
        {
            if (!byNamespace.TryGetValue(group.Key.Namespace, out var measurements))
            {
                measurements = new Utf8Map<CompiledRule[]>();
                byNamespace[group.Key.Namespace] = measurements;
            }

            measurements.Set(Encoding.UTF8.GetBytes(group.Key.Measurement), [.. group]);
        }

        return new RuleSet(byNamespace, [.. rules]);
    }

    public Utf8Map<CompiledRule[]>? Namespace(string ns) => _byNamespace.GetValueOrDefault(ns);

    /// <summary>The rules of a measurement, found by its name lowered into <paramref name="scratch"/>; null when none.</summary>
    public static CompiledRule[]? Lookup(Utf8Map<CompiledRule[]> measurements, ReadOnlySpan<byte> name, ref byte[] scratch)
    {
        if (scratch.Length < name.Length)
        {
            scratch = new byte[Math.Max(name.Length, scratch.Length * 2)];
        }

        var lowered = scratch.AsSpan(0, name.Length);
        LowerAscii(name, lowered);
        return measurements.TryGetValue(lowered, out var rules) ? rules : null;
    }

    /// <summary>ASCII letters lowered, every other byte as it is: the same folding for the rule's name and the point's.</summary>
    public static void LowerAscii(ReadOnlySpan<byte> name, Span<byte> lowered)
    {
        for (int i = 0; i < name.Length; i++)
        {
            byte b = name[i];
            lowered[i] = b is >= (byte)'A' and <= (byte)'Z' ? (byte)(b + 32) : b;
        }
    }
}
