using System.Text;
using Plexus.Core;
using Plexus.Rules.Expressions;

namespace Plexus.Rules;

/// <summary>A rule ready to evaluate: its definition, the measurement's name as bytes and the compiled expressions.</summary>
public sealed class CompiledRule
{
    private CompiledRule(RuleDefinition definition, CompiledExpression? where, CompiledExpression? clearWhen)
    {
        Definition = definition;
        Where = where;
        ClearWhen = clearWhen;
        MeasurementUtf8 = Encoding.UTF8.GetBytes(definition.Measurement);
        ForNs = definition.For.Ticks * 100;
        IsAbsence = definition.AbsentFor is not null;
    }

    public RuleDefinition Definition { get; }

    public string Name => Definition.Name;

    public string Namespace => Definition.Namespace;

    public byte[] MeasurementUtf8 { get; }

    /// <summary>The condition; null for an absence rule that watches every point of its measurement.</summary>
    public CompiledExpression? Where { get; }

    /// <summary>What clears an open alarm; null: the condition is no longer true.</summary>
    public CompiledExpression? ClearWhen { get; }

    // Fields, not computed from the definition: the engine reads them for every point and rule.
    public long ForNs { get; }

    /// <summary>How many values the rule's <c>rate</c> and <c>changed</c> calls remember per device or series.</summary>
    public int MemorySlots { get; private init; }

    public bool IsAbsence { get; }

    /// <summary>The most its windows can hold per device, in bytes: what each device it tracks may cost.</summary>
    public long WindowBytes { get; private init; }

    /// <summary>
    /// Compiles <paramref name="definition"/>; a refusal names the member (<c>where</c>, <c>clear_when</c>) and the problem
    /// in it, with its position.
    /// </summary>
    public static CompiledRule Compile(RuleDefinition definition, RuleCompileOptions options)
    {
        ArgumentNullException.ThrowIfNull(definition);
        var where = definition.Where is null ? null : CompileMember("where", definition.Where, options);
        var clear = definition.ClearWhen is null ? null : CompileMember("clear_when", definition.ClearWhen, options with { FirstSlot = where?.EndSlot ?? 0 });
        return new CompiledRule(definition, where, clear) { MemorySlots = clear?.EndSlot ?? where?.EndSlot ?? 0, WindowBytes = (where?.WindowBytes ?? 0) + (clear?.WindowBytes ?? 0) };
    }

    private static CompiledExpression CompileMember(string member, string text, RuleCompileOptions options)
    {
        try
        {
            return RuleCompiler.CompileCondition(text, options);
        }
        catch (RuleSyntaxException error)
        {
            throw RegistryException.Invalid(member, $"{member}: {error.Message}");
        }
    }
}
