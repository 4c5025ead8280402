// One file on purpose (about 630 lines): name resolution, type checking and the delegate for every node of the rule
// expression subset; the operators and functions themselves live in RuleOperations and RuleFunctions.
using System.Text;
using Plexus.Geo;

namespace Plexus.Rules.Expressions;

/// <summary>Evaluates a compiled expression over the point a <see cref="RuleRow"/> is bound to.</summary>
public delegate RuleValue RuleEvaluator(RuleRow row);

/// <summary>What an expression is known to produce before it runs; <see cref="Any"/> for a point's column, whose type only the point knows.</summary>
public enum RuleType
{
    Any,
    Null,
    Number,
    Boolean,
    Text,
}

/// <summary>What names and functions an expression may use.</summary>
public sealed record RuleCompileOptions
{
    /// <summary>Numbers the point columns the expression reads; share one across the rules of an engine.</summary>
    public RuleSymbols Symbols { get; init; } = new();

    /// <summary>
    /// The columns (fields and tags) of the rule's measurement with their types, when it exists: a name outside them is
    /// refused, and a column's type is checked like a literal's. Null: any name, of a type only the point knows.
    /// </summary>
    public IReadOnlyDictionary<string, RuleType>? KnownColumns { get; init; }

    /// <summary>The first memory slot this expression's <c>rate</c> and <c>changed</c> calls take (a rule's second expression starts after its first's).</summary>
    public int FirstSlot { get; init; }

    /// <summary>Finds a geofence by name for <c>inside_geofence</c> (at evaluation, so a changed fence takes effect); null refuses the function.</summary>
    public Func<string, GeoShape?>? Geofences { get; init; }

    /// <summary>How much the expression's windows may hold per device.</summary>
    public RuleLimits Limits { get; init; } = RuleLimits.Default;
}

/// <summary>A compiled expression and what it reads.</summary>
public sealed class CompiledExpression
{
    internal CompiledExpression(string text, RuleType type, RuleEvaluator evaluate, IReadOnlyList<string> columns, bool readsDevice, int endSlot)
    {
        EndSlot = endSlot;
        Text = text;
        Type = type;
        Evaluate = evaluate;
        Columns = columns;
        ReadsDevice = readsDevice;
    }

    public string Text { get; }

    public RuleType Type { get; }

    public RuleEvaluator Evaluate { get; }

    /// <summary>The point's fields and tags it reads, as written.</summary>
    public IReadOnlyList<string> Columns { get; }

    /// <summary>One past the last memory slot it uses (<see cref="RuleCompileOptions.FirstSlot"/> when it uses none).</summary>
    public int EndSlot { get; }

    /// <summary>The most its windows (<c>count_within</c>, <c>anomaly</c>) can hold per device, in bytes.</summary>
    public long WindowBytes { get; init; }

    /// <summary>Text equalities it cannot be true without (see <see cref="TextRequirement"/>); empty when it has none.</summary>
    internal IReadOnlyList<TextRequirement> Requirements { get; init; } = [];

    /// <summary>A numeric comparison it cannot be true without (see <see cref="NumericBound"/>); null when it has none.</summary>
    internal NumericBound? Bound { get; init; }

    /// <summary>Whether it reads <c>device.*</c>, <c>state.*</c> or <c>position.*</c>.</summary>
    public bool ReadsDevice { get; }

    /// <summary>True only when the expression is the boolean true (NULL and false are not), as SQL's WHERE decides.</summary>
    public bool IsTrue(RuleRow row) => Evaluate(row).IsTrue;
}

/// <summary>
/// Compiles the SQL expression subset of rules (docs/rules.md#expressions) into a tree of delegates that evaluate over a
/// <see cref="RuleRow"/>. Names resolve at compile time: <c>device.*</c>, <c>state.*</c>, <c>position.lat|lon</c>, else
/// a point field or tag; types are checked where they are known (literals, functions, operators), and a point column,
/// whose type only its point knows, gives NULL where its type does not fit, as a failed cast would.
/// </summary>
public static class RuleCompiler
{
    /// <summary>Longest expression text accepted.</summary>
    public const int MaxLength = 4096;

    /// <summary>Compiles a condition: it must be true or false (a comparison, a boolean column...).</summary>
    public static CompiledExpression CompileCondition(string text, RuleCompileOptions? options = null)
    {
        var compiled = Compile(text, options);
        if (compiled.Type is RuleType.Number or RuleType.Text)
        {
            throw new RuleSyntaxException(0, $"the condition is {Describe(compiled.Type)}, not true or false; compare it, e.g. temperature > 80");
        }

        return compiled;
    }

    public static CompiledExpression Compile(string text, RuleCompileOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length > MaxLength)
        {
            throw new RuleSyntaxException(MaxLength, $"the expression is {text.Length} characters; at most {MaxLength}");
        }

        options ??= new RuleCompileOptions();
        var compilation = new Compilation(options);
        var tree = RuleParser.Parse(text);
        var (evaluate, type) = compilation.Compile(tree);

        // The state a rule keeps grows with its devices, so each device's share is bounded by the rule's text.
        int limit = options.Limits.WindowBytesPerDevice;
        if (compilation.WindowBytes > limit)
        {
            throw new RuleSyntaxException(0, string.Create(System.Globalization.CultureInfo.InvariantCulture, $"the windows of this expression hold up to {compilation.WindowBytes:N0} bytes per device; at most {limit:N0} (--rules-max-window-bytes; a rule keeps them for up to {Engine.RuleEngine.MaxKeysPerRule:N0} devices): give anomaly fewer points or use fewer window functions"));
        }

        return new CompiledExpression(text, type, evaluate, [.. compilation.Columns], compilation.ReadsDevice, compilation.NextSlot)
        {
            WindowBytes = compilation.WindowBytes,
            Requirements = TextRequirement.Of(tree, options.Symbols),
            Bound = NumericBound.Of(tree, options.Symbols),
        };
    }

    internal static string Describe(RuleType type) => type switch
    {
        RuleType.Number => "a number",
        RuleType.Text => "text",
        RuleType.Boolean => "true/false",
        RuleType.Null => "NULL",
        _ => "a value",
    };

    internal sealed class Compilation(RuleCompileOptions options)
    {
        public readonly List<string> Columns = [];
        public bool ReadsDevice;
        public int NextSlot = options.FirstSlot;

        public RuleLimits Limits => options.Limits;

        /// <summary>The most the expression's windows can hold per device, in bytes.</summary>
        public long WindowBytes;

        public (RuleEvaluator Evaluate, RuleType Type) Compile(RuleNode node) => node switch
        {
            LiteralNode literal => Literal(literal),
            NameNode name => Name(name),
            UnaryNode unary => Unary(unary),
            BinaryNode binary => Binary(binary),
            InNode @in => In(@in),
            BetweenNode between => Between(between),
            IsNullNode isNull => IsNull(isNull),
            LikeNode like => Like(like),
            CaseNode @case => Case(@case),
            CallNode call => RuleFunctions.Compile(this, call, options.Geofences),
            _ => throw new RuleSyntaxException(node.Position, "this expression is not supported"),
        };

        /// <summary>Compiles an argument that must be of <paramref name="expected"/> (or unknown until it runs).</summary>
        public RuleEvaluator Expect(RuleNode node, RuleType expected, string context)
        {
            var (evaluate, type) = Compile(node);
            if (type != expected && type is not (RuleType.Any or RuleType.Null))
            {
                throw new RuleSyntaxException(node.Position, $"{context} must be {Describe(expected)}, but this is {Describe(type)}");
            }

            return evaluate;
        }

        private static (RuleEvaluator, RuleType) Literal(LiteralNode literal)
        {
            RuleValue value = literal.Kind switch
            {
                LiteralKind.Number => RuleValue.Of(literal.Number),
                LiteralKind.Boolean => RuleValue.Of(literal.Number != 0),
                LiteralKind.Text => RuleValue.OfText(Encoding.UTF8.GetBytes(literal.Text!)),
                _ => RuleValue.Null,
            };
            var type = literal.Kind switch
            {
                LiteralKind.Number => RuleType.Number,
                LiteralKind.Boolean => RuleType.Boolean,
                LiteralKind.Text => RuleType.Text,
                _ => RuleType.Null,
            };
            return (_ => value, type);
        }

        private (RuleEvaluator, RuleType) Name(NameNode name)
        {
            var parts = name.Parts;
            string prefix = parts[0].ToUpperInvariant();
            if (parts.Count == 1 && string.Equals(parts[0], "time", StringComparison.OrdinalIgnoreCase))
            {
                // The point's own time, in seconds since 1970 (UTC), for hour(time) and dow(time).
                return (row => RuleValue.Of(row.TimeNs / 1e9), RuleType.Number);
            }

            if (parts.Count == 1)
            {
                return Column(name, parts[0]);
            }

            ReadsDevice = true;
            switch (prefix)
            {
                case "DEVICE" when parts.Count == 2 && RuleDevice.Attributes.Contains(parts[1]):
                    {
                        var attribute = RuleDevice.AttributeOf(parts[1]);
                        return (row => row.Device?.Attribute(attribute) ?? RuleValue.Null, RuleType.Text);
                    }

                case "DEVICE" when parts.Count == 2 || (parts.Count == 3 && string.Equals(parts[1], "tags", StringComparison.OrdinalIgnoreCase)):
                    {
                        string tag = parts[^1];
                        return (row => row.Device?.Tag(tag) ?? RuleValue.Null, RuleType.Text);
                    }

                case "STATE" when parts.Count == 2:
                    {
                        string property = parts[1];
                        return (row => row.Device?.Reported(property) ?? RuleValue.Null, RuleType.Any);
                    }

                case "POSITION" when parts.Count == 2 && parts[1].ToUpperInvariant() is "LAT" or "LON":
                    {
                        bool latitude = parts[1].Equals("lat", StringComparison.OrdinalIgnoreCase);
                        return (row => row.Device?.Position(latitude) ?? RuleValue.Null, RuleType.Number);
                    }

                case "POSITION":
                    throw new RuleSyntaxException(name.Position, $"unknown name '{name.Display}': the live position has position.lat and position.lon");
                case "DEVICE" or "STATE":
                    throw new RuleSyntaxException(name.Position, $"unknown name '{name.Display}': use device.<attribute or tag>, device.tags.<tag> or state.<property>");
                default:
                    throw new RuleSyntaxException(name.Position, $"unknown name '{name.Display}': a name with a dot starts with device., state. or position.; quote a column whose name has a dot: \"{name.Display}\"");
            }
        }

        private (RuleEvaluator, RuleType) Column(NameNode name, string column)
        {
            var type = RuleType.Any;
            if (options.KnownColumns is { } known && !known.TryGetValue(column, out type))
            {
                string choices = known.Count == 0 ? "it has no columns yet" : "it has " + string.Join(", ", known.Keys.Order(StringComparer.Ordinal).Take(20));
                throw new RuleSyntaxException(name.Position, $"unknown field or tag '{column}' in the rule's measurement ({choices}); device.*, state.* and position.* name the device's facts");
            }

            if (!Columns.Contains(column, StringComparer.OrdinalIgnoreCase))
            {
                Columns.Add(column);
            }

            int symbol = options.Symbols.IdOf(column);
            return (row => row.Column(symbol), type);
        }

        private (RuleEvaluator, RuleType) Unary(UnaryNode unary)
        {
            if (unary.Operator == UnaryOperator.Not)
            {
                var operand = Expect(unary.Operand, RuleType.Boolean, "the operand of NOT");
                return (row => RuleOperations.AsLogic(operand(row)) is { } value ? RuleValue.Of(!value) : RuleValue.Null, RuleType.Boolean);
            }

            var number = Expect(unary.Operand, RuleType.Number, "the operand of '-'");
            return (row => number(row) is { Kind: RuleValueKind.Number } value ? RuleValue.Of(-value.Number) : RuleValue.Null, RuleType.Number);
        }

        private (RuleEvaluator, RuleType) Binary(BinaryNode binary)
        {
            switch (binary.Operator)
            {
                case BinaryOperator.And:
                case BinaryOperator.Or:
                    {
                        string word = binary.Operator == BinaryOperator.And ? "AND" : "OR";
                        var left = Expect(binary.Left, RuleType.Boolean, $"each side of {word}");
                        int slotsBefore = NextSlot;
                        var right = Expect(binary.Right, RuleType.Boolean, $"each side of {word}");
                        if (NextSlot > slotsBefore)
                        {
                            // The right side remembers (rate, count_within, anomaly...): it must see every point, or its
                            // memory would skip the points where the left side decided, so it is evaluated always.
                            return binary.Operator == BinaryOperator.And
                                ? (row => Combine(row, left, right, and: true), RuleType.Boolean)
                                : (row => Combine(row, left, right, and: false), RuleType.Boolean);
                        }

                        return binary.Operator == BinaryOperator.And ? (row => And(row, left, right), RuleType.Boolean) : (row => Or(row, left, right), RuleType.Boolean);
                    }

                case BinaryOperator.Concat:
                    {
                        var left = Compile(binary.Left).Evaluate;
                        var right = Compile(binary.Right).Evaluate;
                        return (row => Concat(row, left(row), right(row)), RuleType.Text);
                    }

                case BinaryOperator.Add or BinaryOperator.Subtract or BinaryOperator.Multiply or BinaryOperator.Divide or BinaryOperator.Modulo:
                    {
                        var left = Expect(binary.Left, RuleType.Number, "each side of arithmetic");
                        var right = Expect(binary.Right, RuleType.Number, "each side of arithmetic");
                        var op = binary.Operator;
                        return (row => Arithmetic(op, left(row), right(row)), RuleType.Number);
                    }

                default:
                    {
                        var (left, leftType) = Compile(binary.Left);
                        var (right, rightType) = Compile(binary.Right);
                        CheckComparable(binary.Position, leftType, rightType);
                        var op = binary.Operator;
                        if (ColumnAgainstLiteral(binary, op) is { } direct)
                        {
                            return (direct, RuleType.Boolean);
                        }

                        return (row => Comparison(row, op, left(row), right(row)), RuleType.Boolean);
                    }
            }
        }

        private (RuleEvaluator, RuleType) In(InNode node)
        {
            var (subject, subjectType) = Compile(node.Subject);
            var values = new RuleEvaluator[node.Values.Count];
            for (int i = 0; i < values.Length; i++)
            {
                var (value, type) = Compile(node.Values[i]);
                CheckComparable(node.Values[i].Position, subjectType, type);
                values[i] = value;
            }

            bool negated = node.Negated;
            return (row =>
            {
                var left = subject(row);
                if (left.IsNull)
                {
                    return RuleValue.Null;
                }

                bool sawNull = false;
                foreach (var candidate in values)
                {
                    var right = candidate(row);
                    int? order = RuleOperations.Compare(row, left, right);
                    if (order == 0)
                    {
                        return RuleValue.Of(!negated);
                    }

                    sawNull |= order is null;
                }

                return sawNull ? RuleValue.Null : RuleValue.Of(negated);
            }, RuleType.Boolean);
        }

        private (RuleEvaluator, RuleType) Between(BetweenNode node)
        {
            var (subject, subjectType) = Compile(node.Subject);
            var (low, lowType) = Compile(node.Low);
            var (high, highType) = Compile(node.High);
            CheckComparable(node.Low.Position, subjectType, lowType);
            CheckComparable(node.High.Position, subjectType, highType);
            bool negated = node.Negated;
            return (row =>
            {
                var value = subject(row);
                bool? inside = And(RuleOperations.Compare(row, value, low(row)) is { } a ? a >= 0 : null, RuleOperations.Compare(row, value, high(row)) is { } b ? b <= 0 : null);
                return RuleOperations.Logic(inside is { } known ? known != negated : null);
            }, RuleType.Boolean);
        }

        private (RuleEvaluator, RuleType) IsNull(IsNullNode node)
        {
            var subject = Compile(node.Subject).Evaluate;
            bool negated = node.Negated;
            return (row => RuleValue.Of(subject(row).IsNull != negated), RuleType.Boolean);
        }

        private (RuleEvaluator, RuleType) Like(LikeNode node)
        {
            var subject = Expect(node.Subject, RuleType.Text, "the left side of LIKE");
            var pattern = Expect(node.Pattern, RuleType.Text, "the pattern of LIKE");
            bool negated = node.Negated, ignoreCase = node.IgnoreCase;
            return (row =>
            {
                var text = subject(row);
                var like = pattern(row);
                if (text.Kind != RuleValueKind.Text || like.Kind != RuleValueKind.Text)
                {
                    return RuleValue.Null;
                }

                return RuleValue.Of(RuleOperations.Like(row.TextOf(text), row.TextOf(like), ignoreCase) != negated);
            }, RuleType.Boolean);
        }

        private (RuleEvaluator, RuleType) Case(CaseNode node)
        {
            RuleEvaluator? subject = null;
            var subjectType = RuleType.Any;
            if (node.Subject is not null)
            {
                (subject, subjectType) = Compile(node.Subject);
            }

            var conditions = new RuleEvaluator[node.Branches.Count];
            var results = new RuleEvaluator[node.Branches.Count];
            var resultType = RuleType.Null;
            for (int i = 0; i < conditions.Length; i++)
            {
                var (when, then) = node.Branches[i];
                if (subject is null)
                {
                    conditions[i] = Expect(when, RuleType.Boolean, "the condition of WHEN");
                }
                else
                {
                    var (value, type) = Compile(when);
                    CheckComparable(when.Position, subjectType, type);
                    conditions[i] = value;
                }

                (results[i], var branchType) = Compile(then);
                resultType = Unify(then.Position, resultType, branchType);
            }

            RuleEvaluator otherwise = _ => RuleValue.Null;
            if (node.Else is not null)
            {
                (otherwise, var elseType) = Compile(node.Else);
                resultType = Unify(node.Else.Position, resultType, elseType);
            }

            return (row =>
            {
                RuleValue subjectValue = subject is null ? default : subject(row);
                for (int i = 0; i < conditions.Length; i++)
                {
                    var condition = conditions[i](row);
                    bool taken = subject is null ? condition.IsTrue : RuleOperations.Compare(row, subjectValue, condition) == 0;
                    if (taken)
                    {
                        return results[i](row);
                    }
                }

                return otherwise(row);
            }, resultType);
        }

        private static RuleType Unify(int position, RuleType current, RuleType next)
        {
            if (current == RuleType.Null || current == next || next == RuleType.Null)
            {
                return current == RuleType.Null ? next : current;
            }

            if (current == RuleType.Any || next == RuleType.Any)
            {
                return RuleType.Any;
            }

            throw new RuleSyntaxException(position, $"the branches of CASE give {Describe(current)} and {Describe(next)}; make them the same type");
        }

        private static void CheckComparable(int position, RuleType left, RuleType right)
        {
            if (left is RuleType.Any or RuleType.Null || right is RuleType.Any or RuleType.Null || left == right)
            {
                return;
            }

            throw new RuleSyntaxException(position, $"cannot compare {Describe(left)} with {Describe(right)}");
        }

        private static RuleValue And(RuleRow row, RuleEvaluator left, RuleEvaluator right)
        {
            // SQL's three-valued AND: false wins over NULL, so the right side is skipped once the left is false.
            var a = RuleOperations.AsLogic(left(row));
            if (a == false)
            {
                return RuleValue.False;
            }

            return RuleOperations.Logic(And(a, RuleOperations.AsLogic(right(row))));
        }

        private static RuleValue Or(RuleRow row, RuleEvaluator left, RuleEvaluator right)
        {
            var a = RuleOperations.AsLogic(left(row));
            if (a == true)
            {
                return RuleValue.True;
            }

            var b = RuleOperations.AsLogic(right(row));
            return b == true ? RuleValue.True : a is null || b is null ? RuleValue.Null : RuleValue.False;
        }

        private static RuleValue Combine(RuleRow row, RuleEvaluator left, RuleEvaluator right, bool and)
        {
            var a = RuleOperations.AsLogic(left(row));
            var b = RuleOperations.AsLogic(right(row));
            if (and)
            {
                return RuleOperations.Logic(And(a, b));
            }

            return a == true || b == true ? RuleValue.True : a is null || b is null ? RuleValue.Null : RuleValue.False;
        }

        /// <summary>
        /// A point's column compared with a number or text literal (<c>velocity &gt; 95</c>, <c>fleet = 'East'</c>), the
        /// commonest condition: read and compared in one step rather than through a delegate per side. Same result as
        /// <see cref="Comparison"/>.
        /// </summary>
        private RuleEvaluator? ColumnAgainstLiteral(BinaryNode binary, BinaryOperator op)
        {
            if (binary.Left is not NameNode { Parts: [var column] } || string.Equals(column, "time", StringComparison.OrdinalIgnoreCase))
            {
                return null;
            }

            int symbol = options.Symbols.IdOf(column);
            switch (binary.Right)
            {
                case LiteralNode { Kind: LiteralKind.Number } number:
                    {
                        double literal = number.Number;
                        return row =>
                        {
                            var value = row.Column(symbol);
                            return value.Kind == RuleValueKind.Number ? RuleValue.Of(Holds(op, value.Number.CompareTo(literal))) : RuleValue.Null;
                        };
                    }

                case LiteralNode { Kind: LiteralKind.Text } text:
                    {
                        byte[] literal = Encoding.UTF8.GetBytes(text.Text!);
                        return row =>
                        {
                            var value = row.Column(symbol);
                            return value.Kind == RuleValueKind.Text ? RuleValue.Of(Holds(op, row.TextOf(value).SequenceCompareTo(literal))) : RuleValue.Null;
                        };
                    }

                default:
                    return null;
            }
        }

        private static bool Holds(BinaryOperator op, int order) => op switch
        {
            BinaryOperator.Equal => order == 0,
            BinaryOperator.NotEqual => order != 0,
            BinaryOperator.Less => order < 0,
            BinaryOperator.LessOrEqual => order <= 0,
            BinaryOperator.Greater => order > 0,
            _ => order >= 0,
        };

        private static bool? And(bool? a, bool? b) => a == false || b == false ? false : a is null || b is null ? null : true;

        private static RuleValue Comparison(RuleRow row, BinaryOperator op, in RuleValue left, in RuleValue right)
        {
            if (RuleOperations.Compare(row, left, right) is not { } order)
            {
                return RuleValue.Null;
            }

            return RuleValue.Of(Holds(op, order));
        }

        private static RuleValue Arithmetic(BinaryOperator op, in RuleValue left, in RuleValue right)
        {
            if (left.Kind != RuleValueKind.Number || right.Kind != RuleValueKind.Number)
            {
                return RuleValue.Null;
            }

            double a = left.Number, b = right.Number;
            return op switch
            {
                BinaryOperator.Add => RuleValue.Of(a + b),
                BinaryOperator.Subtract => RuleValue.Of(a - b),
                BinaryOperator.Multiply => RuleValue.Of(a * b),

                // Division by zero is NULL, so that a condition over it is not true rather than infinitely so.
                BinaryOperator.Divide => b == 0 ? RuleValue.Null : RuleValue.Of(a / b),
                _ => b == 0 ? RuleValue.Null : RuleValue.Of(a % b),
            };
        }

        private static RuleValue Concat(RuleRow row, in RuleValue left, in RuleValue right)
        {
            if (left.IsNull || right.IsNull)
            {
                return RuleValue.Null;
            }

            var a = AsText(row, left);
            var b = AsText(row, right);
            int length = a.Length + b.Length;
            if (a.IsNull || b.IsNull || !row.Reserve(length))
            {
                return RuleValue.Null;
            }

            // Reserve may have moved to a new scratch array; a and b still point into the old one, which stays valid.
            var target = row.ScratchSpace(length);
            row.TextOf(a).CopyTo(target);
            row.TextOf(b).CopyTo(target[a.Length..]);
            return row.CommitScratch(length);
        }

        private static RuleValue AsText(RuleRow row, in RuleValue value) => value.Kind switch
        {
            RuleValueKind.Text => value,
            RuleValueKind.Number => row.StoreNumber(value.Number),
            RuleValueKind.Boolean => RuleValue.OfText(value.IsTrue ? TrueText : FalseText),
            _ => RuleValue.Null,
        };

        private static readonly byte[] TrueText = "true"u8.ToArray();
        private static readonly byte[] FalseText = "false"u8.ToArray();
    }
}
