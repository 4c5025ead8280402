using Plexus.Core;

namespace Plexus.Devices;

/// <summary>The rules for ids and metadata; every message names the field and the fix.</summary>
public static class DeviceValidation
{
    public const int MaxIdLength = 128;
    public const int MaxNameLength = 256;
    public const int MaxTypeLength = 128;
    public const int MaxTagKeyLength = 128;
    public const int MaxTagValueLength = 1024;
    public const int MaxTags = 64;
    public const int MaxMeasurements = 64;
    public const int MaxMeasurementLength = 256;

    /// <summary>
    /// 1–128 letters, digits, <c>_ - . :</c>. The id is an MQTT topic level (<c>devices/&lt;id&gt;/...</c>), so it
    /// must never hold <c>/</c>, <c>+</c> or <c>#</c>; the topic ACL relies on that.
    /// </summary>
    public static bool IsValidId(string? id, out string? problem)
    {
        problem = null;
        if (string.IsNullOrEmpty(id))
        {
            problem = "the device id is required";
            return false;
        }

        if (id.Length > MaxIdLength)
        {
            problem = $"the device id is {id.Length} characters; at most {MaxIdLength} are allowed";
            return false;
        }

        foreach (char c in id)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' or ':'))
            {
                problem = $"the device id \"{id}\" holds '{c}'; use letters, digits, '_', '-', '.' and ':' only";
                return false;
            }
        }

        return true;
    }

    internal static void RequireId(string? id, string field = "id")
    {
        if (!IsValidId(id, out string? problem))
        {
            throw RegistryException.Invalid(field, field == "id" ? problem! : $"{field}: {problem}");
        }
    }

    internal static void CheckText(string? value, string field, int maxLength)
    {
        if (value is not null && value.Length > maxLength)
        {
            throw RegistryException.Invalid(field, $"{field} is {value.Length} characters; at most {maxLength} are allowed");
        }
    }

    /// <summary>The name, type and tags of a new device or asset.</summary>
    internal static void CheckMetadata(string? name, string? type, IReadOnlyDictionary<string, string>? tags)
    {
        CheckText(name, "name", MaxNameLength);
        CheckText(type, "type", MaxTypeLength);
        CheckTags(tags);
    }

    /// <summary>The parts of a metadata change (PATCH) that are set.</summary>
    internal static void CheckChanges(bool nameSet, string? name, bool typeSet, string? type, bool tagsSet, IReadOnlyDictionary<string, string>? tags)
    {
        if (nameSet)
        {
            CheckText(name, "name", MaxNameLength);
        }

        if (typeSet)
        {
            CheckText(type, "type", MaxTypeLength);
        }

        if (tagsSet)
        {
            CheckTags(tags);
        }
    }

    /// <summary>
    /// A device's allow-list: 1–64 measurement names of 1–256 characters without control characters, none of them
    /// reserved in <c>main</c>; repeats are dropped. Null (no list) stays null; an empty list is refused, since a
    /// device that may write nothing is more likely a mistake for "any" than a wish.
    /// </summary>
    public static IReadOnlyList<string>? CheckMeasurements(IReadOnlyList<string>? measurements)
    {
        if (measurements is null)
        {
            return null;
        }

        if (measurements.Count == 0)
        {
            throw RegistryException.Invalid("measurements", "measurements must name at least one measurement; send null (or leave it out) to let the device write any");
        }

        var names = new List<string>();
        foreach (string name in measurements)
        {
            if (string.IsNullOrEmpty(name) || name.Length > MaxMeasurementLength || name.AsSpan().ContainsAnyInRange('\u0000', '\u001f'))
            {
                throw RegistryException.Invalid("measurements", $"measurement \"{name}\" must be 1–{MaxMeasurementLength} characters without control characters");
            }

            if (ReservedMeasurements.IsReservedName(name))
            {
                throw RegistryException.Invalid("measurements", $"measurement \"{name}\" is reserved in namespace main; no device writes it");
            }

            if (!names.Contains(name, StringComparer.Ordinal))
            {
                names.Add(name);
            }
        }

        return names.Count <= MaxMeasurements
            ? names
            : throw RegistryException.Invalid("measurements", $"{names.Count} measurements; at most {MaxMeasurements} are allowed");
    }

    internal static void CheckTags(IReadOnlyDictionary<string, string>? tags)
    {
        if (tags is null)
        {
            return;
        }

        if (tags.Count > MaxTags)
        {
            throw RegistryException.Invalid("tags", $"{tags.Count} tags; at most {MaxTags} are allowed");
        }

        foreach (var (key, value) in tags)
        {
            if (string.IsNullOrEmpty(key) || key.Length > MaxTagKeyLength)
            {
                throw RegistryException.Invalid("tags", $"tag key \"{key}\" must be 1–{MaxTagKeyLength} characters");
            }

            if (value is null || value.Length > MaxTagValueLength)
            {
                throw RegistryException.Invalid("tags", $"tag \"{key}\" must have a string value of at most {MaxTagValueLength} characters");
            }
        }
    }
}
