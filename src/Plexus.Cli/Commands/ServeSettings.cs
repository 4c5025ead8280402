using System.Text.Json;

namespace Plexus.Cli.Commands;

/// <summary>The optional JSON config file: keys are option names without dashes, values strings or numbers.</summary>
internal sealed class ServeSettings
{
    private readonly Dictionary<string, string> _values;

    private ServeSettings(Dictionary<string, string> values) => _values = values;

    public string? LogLevel { get; set; }

    public string? Get(string key) => _values.TryGetValue(key, out var value) ? value : null;

    public static ServeSettings Load(string? path)
    {
        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (path is null)
        {
            return new ServeSettings(values);
        }

        using var document = JsonDocument.Parse(File.ReadAllText(path));
        foreach (var property in document.RootElement.EnumerateObject())
        {
            string value = property.Value.ValueKind switch
            {
                JsonValueKind.String => property.Value.GetString()!,
                JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => property.Value.GetRawText(),
                _ => throw new FormatException($"config {path}: \"{property.Name}\" must be a string or a number"),
            };
            values[property.Name.Replace("_", "-", StringComparison.Ordinal)] = value;
        }

        return new ServeSettings(values);
    }
}
