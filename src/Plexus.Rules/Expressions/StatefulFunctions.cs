using Plexus.Geo;
using Plexus.Rules.Anomalies;

namespace Plexus.Rules.Expressions;

/// <summary>
/// The functions that remember a device's (or series') earlier points, each call in a memory slot of its own
/// (<see cref="RuleMemory"/>): geofence transitions and dwell, counts in a sliding window of event time, and anomaly
/// scores over a window of values. Their arguments that shape the state (window, method, size) must be literals, checked
/// when the rule is saved, so that the state of every device is bounded by the rule's text.
/// </summary>
internal static class StatefulFunctions
{
    /// <summary>
    /// <c>enters_geofence(lat, lon, 'name')</c>: true at the first point inside after a point outside;
    /// <c>exits_geofence</c>: true at the first point outside after a point inside; <c>geofence_dwell</c>: seconds
    /// inside since the first point of this stay (event time), 0 outside. NULL (and nothing remembered) when the
    /// position is unknown or the geofence was removed.
    /// </summary>
    public static (RuleEvaluator, RuleType) GeofenceStay(RuleCompiler.Compilation compilation, CallNode call, Func<string, GeoShape?>? geofences)
    {
        var fence = RuleFunctions.Geofence(compilation, call, geofences);
        int slot = compilation.NextSlot++;
        switch (call.Name)
        {
            case "enters_geofence":
                return (row => Stay(row, fence, slot, out var was) is { } inside ? RuleValue.Of(inside && was == false) : RuleValue.Null, RuleType.Boolean);
            case "exits_geofence":
                return (row => Stay(row, fence, slot, out var was) is { } inside ? RuleValue.Of(!inside && was == true) : RuleValue.Null, RuleType.Boolean);
            default:
                return (row =>
                {
                    if (row.Memory is not { } memory || fence.Inside(row) is not { } inside)
                    {
                        return RuleValue.Null;
                    }

                    return RuleValue.Of(memory.Stay(slot, inside, row.TimeNs, out _));
                }, RuleType.Number);
        }
    }

    private static bool? Stay(RuleRow row, RuleFunctions.GeofenceCall fence, int slot, out bool? wasInside)
    {
        wasInside = null;
        if (row.Memory is not { } memory || fence.Inside(row) is not { } inside)
        {
            return null;
        }

        memory.Stay(slot, inside, row.TimeNs, out wasInside);
        return inside;
    }

    /// <summary>
    /// <c>count_within('1m'[, condition])</c>: how many of the device's points in the last minute of event time
    /// (sliding: this point and those after its time minus the window) met the condition (every point without one).
    /// </summary>
    public static (RuleEvaluator, RuleType) CountWithin(RuleCompiler.Compilation compilation, CallNode call)
    {
        RuleFunctions.Arity(call, 1, 2);
        if (call.Arguments[0] is not LiteralNode { Kind: LiteralKind.Text, Text: { } text } || !RuleDurations.TryParse(text, out var window)
            || window <= TimeSpan.Zero || window > TimeSpan.FromDays(365))
        {
            throw new RuleSyntaxException(call.Arguments[0].Position, "the window of count_within is a duration in quotes from 1ms to 365d, e.g. count_within('1m', door) > 10");
        }

        RuleEvaluator? condition = call.Arguments.Count == 2 ? compilation.Expect(call.Arguments[1], RuleType.Boolean, "the condition of count_within") : null;
        long windowNs = window.Ticks * 100;
        int slot = compilation.NextSlot++;
        int maxTimes = compilation.Limits.CountWithinTimes;
        compilation.WindowBytes += (long)maxTimes * sizeof(long);
        Func<EventWindow> create = () => new EventWindow(maxTimes);
        return (row =>
        {
            if (row.Memory is not { } memory)
            {
                return RuleValue.Null;
            }

            bool counted = condition is null || condition(row).IsTrue;
            return RuleValue.Of(memory.Window(slot, create).Count(row.TimeNs, windowNs, counted));
        }, RuleType.Number);
    }

    /// <summary>
    /// <c>anomaly(x, 'mad'[, points])</c>: how far <c>x</c> is from the device's previous <c>points</c> values (60 by
    /// default), by the method's score (<see cref="AnomalyWindow"/>); NULL until the window is full, when <c>x</c> is not
    /// a number, and when the window is flat.
    /// </summary>
    public static (RuleEvaluator, RuleType) Anomaly(RuleCompiler.Compilation compilation, CallNode call)
    {
        RuleFunctions.Arity(call, 2, 3);
        var value = RuleFunctions.Number(compilation, call.Arguments[0], call);
        if (call.Arguments[1] is not LiteralNode { Kind: LiteralKind.Text, Text: { } name } || !AnomalyMethods.TryParse(name, out var method))
        {
            throw new RuleSyntaxException(call.Arguments[1].Position, $"the method of anomaly is one of {AnomalyMethods.Names} in quotes, e.g. anomaly(temperature, 'mad') > 3.5");
        }

        int points = AnomalyWindow.DefaultPoints;
        if (call.Arguments.Count == 3)
        {
            if (call.Arguments[2] is not LiteralNode { Kind: LiteralKind.Number, Number: var size } || size != Math.Floor(size)
                || size < AnomalyWindow.MinPoints || size > AnomalyWindow.MaxPoints)
            {
                throw new RuleSyntaxException(call.Arguments[2].Position, $"the window of anomaly is a whole number of points from {AnomalyWindow.MinPoints} to {AnomalyWindow.MaxPoints}, e.g. anomaly(temperature, 'mad', 120)");
            }

            points = (int)size;
        }

        int slot = compilation.NextSlot++;

        // The values, and for the MAD a sorted copy; the seasonal baseline keeps that for each of 24 hours.
        compilation.WindowBytes += (long)points * sizeof(double) * method switch
        {
            AnomalyMethod.Mad => 2,
            AnomalyMethod.Seasonal => 48,
            _ => 1,
        };
        if (method == AnomalyMethod.Seasonal)
        {
            Func<SeasonalAnomalyWindow> seasonal = () => new SeasonalAnomalyWindow(points);
            return (row =>
            {
                if (row.Memory is not { } memory || value(row) is not { Kind: RuleValueKind.Number } x)
                {
                    return RuleValue.Null;
                }

                double score = memory.Window(slot, seasonal).Score(x.Number, row.TimeNs);
                return double.IsNaN(score) ? RuleValue.Null : RuleValue.Of(score);
            }, RuleType.Number);
        }

        double[]? weights = method == AnomalyMethod.Ewma ? AnomalyMethods.EwmaWeights(points) : null;
        Func<AnomalyWindow> create = () => new AnomalyWindow(method, points, weights);
        return (row =>
        {
            if (row.Memory is not { } memory || value(row) is not { Kind: RuleValueKind.Number } x)
            {
                return RuleValue.Null;
            }

            double score = memory.Window(slot, create).Score(x.Number);
            return double.IsNaN(score) ? RuleValue.Null : RuleValue.Of(score);
        }, RuleType.Number);
    }
}
