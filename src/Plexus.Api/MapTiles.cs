namespace Plexus.Api;

/// <summary>
/// A tile server for the console's map (<c>--map-tiles</c>): an http(s) URL template with <c>{z}</c>, <c>{x}</c> and
/// <c>{y}</c>. The console then loads images from that one origin, which the page's content security policy names;
/// without it the map draws the land outline packaged with the console and loads nothing from elsewhere.
/// </summary>
public sealed record MapTiles
{
    private const int MaxAttributionLength = 200;

    private MapTiles(string template, string origin, string? attribution)
    {
        Template = template;
        Origin = origin;
        Attribution = attribution;
    }

    /// <summary>The URL with <c>{z}</c>, <c>{x}</c> and <c>{y}</c> for the zoom level and the tile's column and row.</summary>
    public string Template { get; }

    /// <summary>Scheme, host and port of the tile server: the one origin the console may load images from.</summary>
    public string Origin { get; }

    /// <summary>The credit the tile provider requires, shown under the map (<c>--map-attribution</c>).</summary>
    public string? Attribution { get; }

    /// <summary>The template checked, or a <see cref="FormatException"/> that says what is wrong with it.</summary>
    public static MapTiles Parse(string template, string? attribution)
    {
        template = template.Trim();
        foreach (string placeholder in (string[])["{z}", "{x}", "{y}"])
        {
            if (!template.Contains(placeholder, StringComparison.Ordinal))
            {
                throw new FormatException($"map-tiles: \"{template}\" has no {placeholder}; give a template like https://tile.example.org/{{z}}/{{x}}/{{y}}.png");
            }
        }

        string sample = template.Replace("{z}", "0", StringComparison.Ordinal).Replace("{x}", "0", StringComparison.Ordinal).Replace("{y}", "0", StringComparison.Ordinal);
        // The origin goes into a header: anything that could end the policy's directive or add another is refused.
        if (!Uri.TryCreate(sample, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp)
            || uri.UserInfo.Length > 0 || template.Any(c => char.IsWhiteSpace(c) || c is ';' or ',' or '\'' or '"' || char.IsControl(c)))
        {
            throw new FormatException($"map-tiles: \"{template}\" is not an http or https URL template without credentials, spaces, quotes, commas or semicolons");
        }

        if (attribution is not null)
        {
            attribution = attribution.Trim();
            if (attribution.Length > MaxAttributionLength || attribution.Any(char.IsControl))
            {
                throw new FormatException($"map-attribution: at most {MaxAttributionLength} characters of plain text");
            }
        }

        return new MapTiles(template, uri.GetLeftPart(UriPartial.Authority), string.IsNullOrEmpty(attribution) ? null : attribution);
    }
}
