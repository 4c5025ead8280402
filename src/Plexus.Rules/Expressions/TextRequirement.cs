namespace Plexus.Rules.Expressions;

/// <summary>
/// A text equality a condition cannot be true without: one operand of its top-level <c>AND</c> chain that compares a
/// column or a device fact with text literals (<c>fleet = 'East'</c>, <c>model IN ('F-150', 'H-2')</c>,
/// <c>device.type = 'truck'</c>). What it reads is the same for every point of a device's series, so the engine decides
/// once per device and series, not per point, that a rule cannot hold and need not be evaluated.
/// </summary>
internal sealed class TextRequirement
{
    private readonly byte[][] _values;

    private TextRequirement(int symbol, DeviceAttribute? attribute, string? deviceTag, byte[][] values)
    {
        Symbol = symbol;
        Attribute = attribute;
        DeviceTag = deviceTag;
        _values = values;
    }

    /// <summary>The point column it reads (a field or tag, fields first), or -1 when it reads a device fact.</summary>
    public int Symbol { get; }

    public DeviceAttribute? Attribute { get; }

    public string? DeviceTag { get; }

    /// <summary>Whether the bound point (and its device) meets it; anything but equal text (NULL, a number) does not, as SQL's <c>=</c> is then not true.</summary>
    public bool IsMet(RuleRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        var value = Symbol >= 0 ? row.Column(Symbol)
            : row.Device is not { } device ? RuleValue.Null
            : Attribute is { } attribute ? device.Attribute(attribute)
            : device.Tag(DeviceTag!);
        if (value.Kind != RuleValueKind.Text)
        {
            return false;
        }

        var text = row.TextOf(value);
        foreach (byte[] candidate in _values)
        {
            if (text.SequenceEqual(candidate))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The requirements of the top-level <c>AND</c> chain of <paramref name="node"/>; an <c>OR</c>, a <c>NOT</c> or any other shape adds none.</summary>
    public static List<TextRequirement> Of(RuleNode node, RuleSymbols symbols)
    {
        var found = new List<TextRequirement>();
        Collect(node, symbols, found);
        return found;
    }

    private static void Collect(RuleNode node, RuleSymbols symbols, List<TextRequirement> found)
    {
        switch (node)
        {
            case BinaryNode { Operator: BinaryOperator.And } and:
                Collect(and.Left, symbols, found);
                Collect(and.Right, symbols, found);
                break;
            case BinaryNode { Operator: BinaryOperator.Equal, Left: NameNode name, Right: LiteralNode { Kind: LiteralKind.Text } literal }:
                Add(name, [literal], symbols, found);
                break;
            case BinaryNode { Operator: BinaryOperator.Equal, Left: LiteralNode { Kind: LiteralKind.Text } literal, Right: NameNode name }:
                Add(name, [literal], symbols, found);
                break;
            case InNode { Negated: false, Subject: NameNode name } @in when @in.Values.All(v => v is LiteralNode { Kind: LiteralKind.Text }):
                Add(name, [.. @in.Values.Cast<LiteralNode>()], symbols, found);
                break;
        }
    }

    private static void Add(NameNode name, LiteralNode[] literals, RuleSymbols symbols, List<TextRequirement> found)
    {
        byte[][] values = [.. literals.Select(l => System.Text.Encoding.UTF8.GetBytes(l.Text!))];
        var parts = name.Parts;
        if (parts.Count == 1 && !string.Equals(parts[0], "time", StringComparison.OrdinalIgnoreCase))
        {
            found.Add(new TextRequirement(symbols.IdOf(parts[0]), null, null, values));
        }
        else if (parts.Count == 2 && string.Equals(parts[0], "device", StringComparison.OrdinalIgnoreCase) && RuleDevice.Attributes.Contains(parts[1]))
        {
            found.Add(new TextRequirement(-1, RuleDevice.AttributeOf(parts[1]), null, values));
        }
        else if (string.Equals(parts[0], "device", StringComparison.OrdinalIgnoreCase)
            && (parts.Count == 2 || (parts.Count == 3 && string.Equals(parts[1], "tags", StringComparison.OrdinalIgnoreCase))))
        {
            found.Add(new TextRequirement(-1, null, parts[^1], values));
        }

        // state.* changes between points of one series, and position.* is a number: neither is decided per series.
    }
}
