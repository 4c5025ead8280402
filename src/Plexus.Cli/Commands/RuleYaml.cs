using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Plexus.Cli.Client;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Plexus.Cli.Commands;

/// <summary>
/// A rule written in YAML, turned into the JSON object the rules API takes, so that the server checks it and answers
/// with the same errors as for JSON (docs/rules.md#yaml). Plain scalars take YAML 1.2's core types (<c>true</c>,
/// <c>80</c>, <c>null</c>); quoted ones stay text.
/// </summary>
/// <remarks>
/// A rule file is small and flat, so what YAML could make large is refused rather than expanded: anchors and aliases
/// (a few lines of aliases can stand for billions of nodes), more than one document, nesting past
/// <see cref="MaxDepth"/> and files past <see cref="MaxBytes"/>.
/// </remarks>
internal static partial class RuleYaml
{
    public const int MaxBytes = 1024 * 1024;
    public const int MaxDepth = 16;

    public static bool IsYaml(string path) =>
        path.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".yml", StringComparison.OrdinalIgnoreCase);

    /// <summary>The rule as JSON; <see cref="CliException"/> naming the line and column of what is wrong.</summary>
    public static JsonObject ToJson(string text, string fileName)
    {
        if (text.Length > MaxBytes)
        {
            throw new CliException($"{fileName} is {text.Length:N0} characters; a rule file is at most {MaxBytes:N0}");
        }

        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new CliException($"{fileName}: line {e.Start.Line}, column {e.Start.Column}: {e.Message}");
        }

        if (stream.Documents.Count != 1)
        {
            throw new CliException($"{fileName} holds {stream.Documents.Count} YAML documents; a rule file holds one rule");
        }

        return Convert(stream.Documents[0].RootNode, fileName, 0) as JsonObject
            ?? throw new CliException($"{fileName} does not hold a rule: a mapping like \"name: overheat\" on its first line");
    }

    private static JsonNode? Convert(YamlNode node, string fileName, int depth)
    {
        string at = $"{fileName}: line {node.Start.Line}, column {node.Start.Column}";
        if (!node.Anchor.IsEmpty)
        {
            throw new CliException($"{at}: anchors and aliases (&{node.Anchor}, *{node.Anchor}) are not read in a rule file; write the value out");
        }

        if (depth > MaxDepth)
        {
            throw new CliException($"{at}: nested deeper than {MaxDepth} levels");
        }

        switch (node)
        {
            case YamlMappingNode mapping:
                var json = new JsonObject();
                foreach (var (key, value) in mapping.Children)
                {
                    if (key is not YamlScalarNode { Value: { } name })
                    {
                        throw new CliException($"{fileName}: line {key.Start.Line}, column {key.Start.Column}: a key is a name, not a list or mapping");
                    }

                    if (json.ContainsKey(name))
                    {
                        throw new CliException($"{fileName}: line {key.Start.Line}, column {key.Start.Column}: \"{name}\" is given twice");
                    }

                    json[name] = Convert(value, fileName, depth + 1);
                }

                return json;
            case YamlSequenceNode sequence:
                var array = new JsonArray();
                foreach (var item in sequence.Children)
                {
                    array.Add(Convert(item, fileName, depth + 1));
                }

                return array;
            case YamlScalarNode scalar:
                return Scalar(scalar);
            default:
                throw new CliException($"{at}: a {node.NodeType} is not part of a rule");
        }
    }

    private static JsonValue? Scalar(YamlScalarNode scalar)
    {
        string value = scalar.Value ?? string.Empty;
        if (scalar.Style is not (ScalarStyle.Plain or ScalarStyle.Any))
        {
            return JsonValue.Create(value);
        }

        if (value is "" or "~" or "null" or "Null" or "NULL")
        {
            return null;
        }

        if (value is "true" or "True" or "TRUE" or "false" or "False" or "FALSE")
        {
            return JsonValue.Create(value[0] is 't' or 'T');
        }

        if (Integer().IsMatch(value) && long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long whole))
        {
            return JsonValue.Create(whole);
        }

        if (Number().IsMatch(value) && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double number) && double.IsFinite(number))
        {
            return JsonValue.Create(number);
        }

        return JsonValue.Create(value);
    }

    [GeneratedRegex("^[-+]?[0-9]+$")]
    private static partial Regex Integer();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex Number();
}
