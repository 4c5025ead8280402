using System.Text.Json;
using Plexus.Core;

namespace Plexus.Devices;

/// <summary>How the device and asset registries keep the metadata they share (tags, times), so both store it alike.</summary>
internal static class RegistryFields
{
    /// <summary>The current time rounded to what a TIMESTAMP keeps, never before <paramref name="notBefore"/>.</summary>
    public static DateTimeOffset Now(TimeProvider time, DateTimeOffset? notBefore)
    {
        // TIMESTAMP keeps microseconds; round so the in-memory copy equals what a reload reads.
        var now = time.GetUtcNow();
        var rounded = new DateTimeOffset(now.Ticks - (now.Ticks % 10), TimeSpan.Zero);

        // A clock stepping back must not give a version that ends before it starts.
        return notBefore is { } floor && floor > rounded ? floor : rounded;
    }

    public static DateTimeOffset AsUtc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));

    /// <summary>True when <paramref name="actual"/> holds every wanted tag with the same value.</summary>
    public static bool HasAll(IReadOnlyDictionary<string, string> actual, IReadOnlyList<KeyValuePair<string, string>> wanted)
    {
        foreach (var (key, value) in wanted)
        {
            if (!actual.TryGetValue(key, out string? found) || !string.Equals(found, value, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    public static SortedDictionary<string, string> Copy(IReadOnlyDictionary<string, string>? tags) =>
        tags is null ? new SortedDictionary<string, string>(StringComparer.Ordinal) : new SortedDictionary<string, string>(tags.ToDictionary(), StringComparer.Ordinal);

    public static string TagsJson(IReadOnlyDictionary<string, string> tags) => JsonSerializer.Serialize(tags, DevicesJsonContext.Default.IReadOnlyDictionaryStringString);

    public static string? MeasurementsJson(IReadOnlyList<string>? measurements) =>
        measurements is null ? null : JsonSerializer.Serialize(measurements, DevicesJsonContext.Default.IReadOnlyListString);

    public static IReadOnlyList<string> ParseMeasurements(string json) => JsonSerializer.Deserialize(json, DevicesJsonContext.Default.ListString) ?? [];

    public static SortedDictionary<string, string> ParseTags(string json) =>
        new(JsonSerializer.Deserialize(json, DevicesJsonContext.Default.DictionaryStringString) ?? [], StringComparer.Ordinal);

    /// <summary>
    /// Refuses a parent whose own ancestry leads back to <paramref name="id"/>; the error names the path. Bounded by
    /// the entity count, so a cycle already in the data cannot loop forever.
    /// </summary>
    public static void CheckNoCycle<T>(string id, string parent, T parentEntity, IReadOnlyDictionary<string, T> all, Func<T, string?> parentOf)
    {
        var path = new List<string> { id, parent };
        for (string? next = parentOf(parentEntity); next is not null && all.TryGetValue(next, out var ancestor); next = parentOf(ancestor))
        {
            path.Add(next);
            if (string.Equals(next, id, StringComparison.Ordinal) || path.Count > all.Count + 1)
            {
                throw RegistryException.Invalid("parent", $"parent \"{parent}\" would make a cycle: {string.Join(" → ", path)}");
            }
        }
    }
}
