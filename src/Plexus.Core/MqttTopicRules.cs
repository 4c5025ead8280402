namespace Plexus.Core;

/// <summary>
/// The MQTT topic filters an API token is limited to: what it may subscribe to and publish, and what it may not. An
/// empty allow list leaves that direction as the token's scope has it; a deny filter wins over every allow filter. The
/// lists are checked and normalized by <see cref="Create"/>: valid MQTT filters, no repeats, within the limits below.
/// </summary>
public sealed record MqttTopicRules(
    IReadOnlyList<string> Subscribe,
    IReadOnlyList<string> Publish,
    IReadOnlyList<string> DenySubscribe,
    IReadOnlyList<string> DenyPublish)
{
    /// <summary>Filters per list; a token is a credential, not a policy engine.</summary>
    public const int MaxFiltersPerList = 64;

    /// <summary>Characters per filter (MQTT allows 65,535; nobody needs more than this in a token).</summary>
    public const int MaxFilterLength = 512;

    /// <summary>
    /// Checks the four lists and returns the rules, or null when every list is empty (the token keeps its scope's
    /// behaviour). Throws <see cref="ArgumentException"/> whose message names the list (by <paramref name="fieldPrefix"/>)
    /// and the filter that is wrong.
    /// </summary>
    public static MqttTopicRules? Create(IReadOnlyList<string>? subscribe, IReadOnlyList<string>? publish, IReadOnlyList<string>? denySubscribe, IReadOnlyList<string>? denyPublish, string fieldPrefix = "")
    {
        var rules = new MqttTopicRules(
            Check(subscribe, fieldPrefix + "subscribe"),
            Check(publish, fieldPrefix + "publish"),
            Check(denySubscribe, fieldPrefix + "deny_subscribe"),
            Check(denyPublish, fieldPrefix + "deny_publish"));
        return rules.Subscribe.Count + rules.Publish.Count + rules.DenySubscribe.Count + rules.DenyPublish.Count == 0 ? null : rules;
    }

    /// <summary>Whether a publish to <paramref name="topic"/> passes these rules (the scope is checked elsewhere).</summary>
    public bool AllowsPublish(string topic) =>
        (Publish.Count == 0 || AnyMatches(Publish, topic)) && !AnyMatches(DenyPublish, topic);

    /// <summary>
    /// Whether a subscription to <paramref name="filter"/> is granted: it must lie within an allowed filter when there
    /// are any, and not within a denied one. A filter that only overlaps a denied one (<c>#</c> and a denied
    /// <c>secret/#</c>) is granted: what it must not see is held back at delivery, where this is asked with the
    /// message's topic (a topic is a filter that covers only itself).
    /// </summary>
    public bool AllowsSubscription(string filter) =>
        (Subscribe.Count == 0 || AnyCovers(Subscribe, filter)) && !AnyCovers(DenySubscribe, filter);

    private static bool AnyMatches(IReadOnlyList<string> filters, string topic)
    {
        for (int i = 0; i < filters.Count; i++)
        {
            if (MqttTopicFilter.Matches(filters[i], topic))
            {
                return true;
            }
        }

        return false;
    }

    private static bool AnyCovers(IReadOnlyList<string> filters, string filter)
    {
        for (int i = 0; i < filters.Count; i++)
        {
            if (MqttTopicFilter.Covers(filters[i], filter))
            {
                return true;
            }
        }

        return false;
    }

    private static string[] Check(IReadOnlyList<string>? filters, string field)
    {
        if (filters is null || filters.Count == 0)
        {
            return [];
        }

        if (filters.Count > MaxFiltersPerList)
        {
            throw new ArgumentException($"{field} has {filters.Count} topic filters; at most {MaxFiltersPerList} are allowed per list");
        }

        var result = new List<string>(filters.Count);
        foreach (string? filter in filters)
        {
            if (!MqttTopicFilter.IsValid(filter, MaxFilterLength, out string? problem))
            {
                throw new ArgumentException($"{field}: {problem}");
            }

            if (!result.Contains(filter!, StringComparer.Ordinal))
            {
                result.Add(filter!);
            }
        }

        return [.. result];
    }
}

/// <summary>MQTT topic filter syntax and matching (MQTT 3.1.1 and 5, section 4.7), without allocating.</summary>
public static class MqttTopicFilter
{
    /// <summary>A valid filter: not empty, <c>#</c> only as the whole last level, <c>+</c> only as a whole level, no NUL.</summary>
    public static bool IsValid(string? filter, int maxLength, out string? problem)
    {
        problem = null;
        if (string.IsNullOrEmpty(filter))
        {
            problem = "an empty topic filter matches nothing; give a topic like devices/+/telemetry";
        }
        else if (filter.Length > maxLength)
        {
            problem = $"the topic filter is {filter.Length} characters; at most {maxLength} are allowed";
        }
        else if (filter.Contains('\0', StringComparison.Ordinal))
        {
            problem = $"the topic filter \"{filter.Replace("\0", "\\0", StringComparison.Ordinal)}\" holds a NUL character";
        }
        else
        {
            int start = 0;
            while (start <= filter.Length)
            {
                int slash = filter.IndexOf('/', start);
                int end = slash < 0 ? filter.Length : slash;
                var level = filter.AsSpan(start, end - start);
                if (level.Contains('#') && (level.Length != 1 || end != filter.Length))
                {
                    problem = $"the topic filter \"{filter}\" has '#' where it is not the whole last level (write a/#, not a# or #/a)";
                    break;
                }

                if (level.Contains('+') && level.Length != 1)
                {
                    problem = $"the topic filter \"{filter}\" has '+' inside a level (write a/+/b, not a+/b)";
                    break;
                }

                start = end + 1;
            }
        }

        return problem is null;
    }

    /// <summary>Whether the topic (no wildcards) matches the filter; <c>+</c> and <c>#</c> first do not match a <c>$</c> topic.</summary>
    public static bool Matches(string filter, string topic)
    {
        if (topic.Length > 0 && topic[0] == '$' && filter.Length > 0 && filter[0] is '+' or '#')
        {
            return false;
        }

        int f = 0, t = 0;
        while (true)
        {
            int fEnd = filter.IndexOf('/', f);
            if (fEnd < 0)
            {
                fEnd = filter.Length;
            }

            var level = filter.AsSpan(f, fEnd - f);
            if (level is "#")
            {
                return true;
            }

            if (t > topic.Length)
            {
                return false; // the topic ended a level earlier ("a" against "a/b"); "a/#" was handled above
            }

            int tEnd = topic.IndexOf('/', t);
            if (tEnd < 0)
            {
                tEnd = topic.Length;
            }

            if (level is not "+" && !level.SequenceEqual(topic.AsSpan(t, tEnd - t)))
            {
                return false;
            }

            bool filterEnds = fEnd == filter.Length, topicEnds = tEnd == topic.Length;
            if (filterEnds || topicEnds)
            {
                // "a/#" also matches "a": the filter may go on with a last "#" level.
                return filterEnds ? topicEnds : filter.AsSpan(fEnd + 1) is "#";
            }

            f = fEnd + 1;
            t = tEnd + 1;
        }
    }

    /// <summary>Whether every topic <paramref name="inner"/> can match is matched by <paramref name="outer"/>.</summary>
    public static bool Covers(string outer, string inner)
    {
        // A filter starting with a wildcard does not match $ topics, one starting with a literal $ level does.
        if (inner.Length > 0 && inner[0] == '$' && outer.Length > 0 && outer[0] is '+' or '#')
        {
            return false;
        }

        int o = 0, i = 0;
        while (true)
        {
            int oEnd = outer.IndexOf('/', o);
            if (oEnd < 0)
            {
                oEnd = outer.Length;
            }

            var outerLevel = outer.AsSpan(o, oEnd - o);
            if (outerLevel is "#")
            {
                return true;
            }

            int iEnd = inner.IndexOf('/', i);
            if (iEnd < 0)
            {
                iEnd = inner.Length;
            }

            var innerLevel = inner.AsSpan(i, iEnd - i);
            if (innerLevel is "#")
            {
                return false; // only "#" covers "#"
            }

            if (outerLevel is not "+" && (innerLevel is "+" || !outerLevel.SequenceEqual(innerLevel)))
            {
                return false;
            }

            bool outerEnds = oEnd == outer.Length, innerEnds = iEnd == inner.Length;
            if (outerEnds || innerEnds)
            {
                return outerEnds ? innerEnds : outer.AsSpan(oEnd + 1) is "#";
            }

            o = oEnd + 1;
            i = iEnd + 1;
        }
    }
}
