using Plexus.Geo;

namespace Plexus.Rules.Expressions;

/// <summary>
/// The functions a rule may call (docs/rules.md#functions): math, text, NULL handling and geo. Each is checked for its
/// number and types of arguments when the rule is compiled; an unknown function is refused with the list.
/// </summary>
internal static class RuleFunctions
{
    public static readonly IReadOnlyList<string> Names =
    [
        "abs", "ceil", "ceiling", "floor", "round", "sqrt", "power", "pow", "exp", "ln", "log10", "log2", "sign", "greatest", "least",
        "coalesce", "nullif", "lower", "upper", "length", "starts_with", "ends_with", "contains", "concat", "trim",
        "geo_distance_m", "geo_within_m", "inside_geofence", "hour", "dow", "rate", "changed",
        "enters_geofence", "exits_geofence", "geofence_dwell", "count_within", "anomaly",
    ];

    public static (RuleEvaluator, RuleType) Compile(RuleCompiler.Compilation compilation, CallNode call, Func<string, GeoShape?>? geofences)
    {
        var args = call.Arguments;
        switch (call.Name)
        {
            case "abs": return Math1(compilation, call, Math.Abs);
            case "ceil" or "ceiling": return Math1(compilation, call, Math.Ceiling);
            case "floor": return Math1(compilation, call, Math.Floor);
            case "sqrt": return Math1(compilation, call, x => x < 0 ? double.NaN : Math.Sqrt(x));
            case "exp": return Math1(compilation, call, Math.Exp);
            case "ln": return Math1(compilation, call, x => x <= 0 ? double.NaN : Math.Log(x));
            case "log10": return Math1(compilation, call, x => x <= 0 ? double.NaN : Math.Log10(x));
            case "log2": return Math1(compilation, call, x => x <= 0 ? double.NaN : Math.Log2(x));
            case "sign": return Math1(compilation, call, x => Math.Sign(x));

            // Of seconds since 1970 (time): the hour of day 0–23 and the day of week 0 (Sunday) – 6, in UTC.
            case "hour": return Math1(compilation, call, x => Math.Floor(PositiveModulo(x, 86_400) / 3600));
            case "dow": return Math1(compilation, call, x => PositiveModulo(Math.Floor(x / 86_400) + 4, 7));
            case "power" or "pow":
                {
                    Arity(call, 2, 2);
                    var x = Number(compilation, args[0], call);
                    var y = Number(compilation, args[1], call);
                    return (row => Numbers(x(row), y(row), Math.Pow), RuleType.Number);
                }

            case "round":
                {
                    Arity(call, 1, 2);
                    var x = Number(compilation, args[0], call);
                    RuleEvaluator digits = args.Count == 2 ? Number(compilation, args[1], call) : _ => RuleValue.Of(0);
                    return (row => Numbers(x(row), digits(row), (value, d) => Math.Round(value, (int)Math.Clamp(d, 0, 15), MidpointRounding.AwayFromZero)), RuleType.Number);
                }

            case "greatest" or "least":
                {
                    Arity(call, 1, 32);
                    bool greatest = call.Name == "greatest";
                    var values = args.Select(a => Number(compilation, a, call)).ToArray();
                    return (row =>
                    {
                        var best = RuleValue.Null;
                        foreach (var value in values)
                        {
                            var v = value(row);
                            if (v.Kind == RuleValueKind.Number && (best.IsNull || (greatest ? v.Number > best.Number : v.Number < best.Number)))
                            {
                                best = v;
                            }
                        }

                        return best;
                    }, RuleType.Number);
                }

            case "coalesce":
                {
                    Arity(call, 1, 32);
                    var values = args.Select(a => compilation.Compile(a)).ToArray();
                    var type = values.Select(v => v.Type).Where(t => t != RuleType.Null).Distinct().Count() == 1 ? values.First(v => v.Type != RuleType.Null).Type : RuleType.Any;
                    var evaluators = values.Select(v => v.Evaluate).ToArray();
                    return (row =>
                    {
                        foreach (var value in evaluators)
                        {
                            var v = value(row);
                            if (!v.IsNull)
                            {
                                return v;
                            }
                        }

                        return RuleValue.Null;
                    }, type);
                }

            case "nullif":
                {
                    Arity(call, 2, 2);
                    var (a, type) = compilation.Compile(args[0]);
                    var b = compilation.Compile(args[1]).Evaluate;
                    return (row =>
                    {
                        var value = a(row);
                        return RuleOperations.Compare(row, value, b(row)) == 0 ? RuleValue.Null : value;
                    }, type);
                }

            case "lower" or "upper":
                {
                    Arity(call, 1, 1);
                    var text = Text(compilation, args[0], call);
                    bool upper = call.Name == "upper";
                    return (row => text(row) is { Kind: RuleValueKind.Text } v ? RuleOperations.ChangeCase(row, row.TextOf(v), upper) : RuleValue.Null, RuleType.Text);
                }

            case "trim":
                {
                    Arity(call, 1, 1);
                    var text = Text(compilation, args[0], call);
                    return (row =>
                    {
                        if (text(row) is not { Kind: RuleValueKind.Text } v)
                        {
                            return RuleValue.Null;
                        }

                        var span = row.TextOf(v);
                        int start = 0, end = span.Length;
                        while (start < end && span[start] == (byte)' ')
                        {
                            start++;
                        }

                        while (end > start && span[end - 1] == (byte)' ')
                        {
                            end--;
                        }

                        return row.Store(span[start..end]);
                    }, RuleType.Text);
                }

            case "length":
                {
                    Arity(call, 1, 1);
                    var text = Text(compilation, args[0], call);
                    return (row => text(row) is { Kind: RuleValueKind.Text } v ? RuleValue.Of(RuleOperations.CharCount(row.TextOf(v))) : RuleValue.Null, RuleType.Number);
                }

            case "starts_with" or "ends_with" or "contains":
                {
                    Arity(call, 2, 2);
                    var text = Text(compilation, args[0], call);
                    var part = Text(compilation, args[1], call);
                    string name = call.Name;
                    return (row =>
                    {
                        if (text(row) is not { Kind: RuleValueKind.Text } t || part(row) is not { Kind: RuleValueKind.Text } p)
                        {
                            return RuleValue.Null;
                        }

                        var haystack = row.TextOf(t);
                        var needle = row.TextOf(p);
                        return RuleValue.Of(name switch
                        {
                            "starts_with" => haystack.StartsWith(needle),
                            "ends_with" => haystack.EndsWith(needle),
                            _ => haystack.IndexOf(needle) >= 0,
                        });
                    }, RuleType.Boolean);
                }

            case "concat":
                {
                    // concat(a, b, ...) is a || b || ..., except that DuckDB's concat skips NULLs.
                    Arity(call, 1, 32);
                    var parts = args.Select(a => compilation.Compile(a).Evaluate).ToArray();
                    return (row =>
                    {
                        var result = RuleValue.OfText([]);
                        foreach (var part in parts)
                        {
                            var value = part(row);
                            if (!value.IsNull)
                            {
                                result = Join(row, result, value);
                            }
                        }

                        return result;
                    }, RuleType.Text);
                }

            case "geo_distance_m":
                {
                    Arity(call, 4, 4);
                    var c = args.Select(a => Number(compilation, a, call)).ToArray();
                    return (row => Distance(row, c) is { } d ? RuleValue.Of(d) : RuleValue.Null, RuleType.Number);
                }

            case "geo_within_m":
                {
                    Arity(call, 5, 5);
                    var c = args.Select(a => Number(compilation, a, call)).ToArray();
                    return (row => Distance(row, c) is { } d && c[4](row) is { Kind: RuleValueKind.Number } r ? RuleValue.Of(d <= r.Number) : RuleValue.Null, RuleType.Boolean);
                }

            case "rate":
                {
                    // Stateful: each call remembers, per device or series, the value of the previous point the rule evaluated.
                    Arity(call, 1, 1);
                    var x = Number(compilation, args[0], call);
                    int slot = compilation.NextSlot++;
                    return (row => row.Memory is { } memory ? memory.Rate(row, slot, x(row)) : RuleValue.Null, RuleType.Number);
                }

            case "changed":
                {
                    Arity(call, 1, 1);
                    var x = compilation.Compile(args[0]).Evaluate;
                    int slot = compilation.NextSlot++;
                    return (row => row.Memory is { } memory ? RuleValue.Of(memory.Changed(row, slot, x(row))) : RuleValue.Null, RuleType.Boolean);
                }

            case "inside_geofence":
                return InsideGeofence(compilation, call, geofences);
            case "enters_geofence" or "exits_geofence" or "geofence_dwell":
                return StatefulFunctions.GeofenceStay(compilation, call, geofences);
            case "count_within":
                return StatefulFunctions.CountWithin(compilation, call);
            case "anomaly":
                return StatefulFunctions.Anomaly(compilation, call);
            default:
                throw new RuleSyntaxException(call.Position, $"unknown function '{call.Name}'; rules can call {string.Join(", ", Names)}; a rule that needs history (an average over time, a join) is written as a scheduled SQL query instead (docs/rules.md#what-rules-cannot-do)");
        }
    }

    private static (RuleEvaluator, RuleType) InsideGeofence(RuleCompiler.Compilation compilation, CallNode call, Func<string, GeoShape?>? geofences)
    {
        var fence = Geofence(compilation, call, geofences);

        // Looked up per evaluation: a replaced geofence takes effect at once, a removed one makes the call NULL.
        return (row => fence.Inside(row) is { } inside ? RuleValue.Of(inside) : RuleValue.Null, RuleType.Boolean);
    }

    /// <summary>The arguments of a geofence function, <c>(lat, lon, 'name')</c>, checked: the name is a literal of a geofence that exists.</summary>
    internal static GeofenceCall Geofence(RuleCompiler.Compilation compilation, CallNode call, Func<string, GeoShape?>? geofences)
    {
        Arity(call, 3, 3);
        var lat = Number(compilation, call.Arguments[0], call);
        var lon = Number(compilation, call.Arguments[1], call);
        if (call.Arguments[2] is not LiteralNode { Kind: LiteralKind.Text, Text: { } name })
        {
            throw new RuleSyntaxException(call.Arguments[2].Position, $"the geofence of {call.Name} must be its name in quotes, e.g. {call.Name}(lat, lon, 'depot-7')");
        }

        if (geofences is null)
        {
            throw new RuleSyntaxException(call.Position, $"{call.Name} needs the geofence registry, which this server has not got");
        }

        if (geofences(name) is null)
        {
            throw new RuleSyntaxException(call.Arguments[2].Position, $"no geofence '{name}'; add it first (POST /api/v1/geofences)");
        }

        return new GeofenceCall(lat, lon, name, geofences);
    }

    /// <summary>A geofence call's compiled arguments; <see cref="Inside"/> is null when the position is unknown or the geofence was removed.</summary>
    internal sealed record GeofenceCall(RuleEvaluator Lat, RuleEvaluator Lon, string Name, Func<string, GeoShape?> Geofences)
    {
        public bool? Inside(RuleRow row)
        {
            if (Lat(row) is not { Kind: RuleValueKind.Number } lat || Lon(row) is not { Kind: RuleValueKind.Number } lon || Geofences(Name) is not { } shape)
            {
                return null;
            }

            return shape.Contains(lat.Number, lon.Number);
        }
    }

    private static double PositiveModulo(double x, double m) => ((x % m) + m) % m;

    private static double? Distance(RuleRow row, RuleEvaluator[] c)
    {
        if (c[0](row) is not { Kind: RuleValueKind.Number } lat1 || c[1](row) is not { Kind: RuleValueKind.Number } lon1
            || c[2](row) is not { Kind: RuleValueKind.Number } lat2 || c[3](row) is not { Kind: RuleValueKind.Number } lon2)
        {
            return null;
        }

        return GeoMath.DistanceM(lat1.Number, lon1.Number, lat2.Number, lon2.Number);
    }

    private static RuleValue Join(RuleRow row, in RuleValue left, in RuleValue right)
    {
        var text = right.Kind switch
        {
            RuleValueKind.Text => right,
            RuleValueKind.Number => row.StoreNumber(right.Number),
            _ => row.Store(right.IsTrue ? "true"u8 : "false"u8),
        };
        int length = left.Length + text.Length;
        if (text.IsNull || !row.Reserve(length))
        {
            return RuleValue.Null;
        }

        var target = row.ScratchSpace(length);
        row.TextOf(left).CopyTo(target);
        row.TextOf(text).CopyTo(target[left.Length..]);
        return row.CommitScratch(length);
    }

    private static (RuleEvaluator, RuleType) Math1(RuleCompiler.Compilation compilation, CallNode call, Func<double, double> function)
    {
        Arity(call, 1, 1);
        var x = Number(compilation, call.Arguments[0], call);
        return (row => x(row) is { Kind: RuleValueKind.Number } v && function(v.Number) is var result && !double.IsNaN(result) ? RuleValue.Of(result) : RuleValue.Null, RuleType.Number);
    }

    private static RuleValue Numbers(in RuleValue a, in RuleValue b, Func<double, double, double> function)
    {
        if (a.Kind != RuleValueKind.Number || b.Kind != RuleValueKind.Number)
        {
            return RuleValue.Null;
        }

        double result = function(a.Number, b.Number);
        return double.IsNaN(result) ? RuleValue.Null : RuleValue.Of(result);
    }

    internal static RuleEvaluator Number(RuleCompiler.Compilation compilation, RuleNode node, CallNode call) =>
        compilation.Expect(node, RuleType.Number, $"each argument of {call.Name}");

    private static RuleEvaluator Text(RuleCompiler.Compilation compilation, RuleNode node, CallNode call) =>
        compilation.Expect(node, RuleType.Text, $"each argument of {call.Name}");

    internal static void Arity(CallNode call, int min, int max)
    {
        int count = call.Arguments.Count;
        if (count < min || count > max)
        {
            string expected = min == max ? $"{min}" : max >= 32 ? $"at least {min}" : $"{min} to {max}";
            throw new RuleSyntaxException(call.Position, $"{call.Name} takes {expected} argument{(max == 1 ? "" : "s")}, not {count}");
        }
    }
}
