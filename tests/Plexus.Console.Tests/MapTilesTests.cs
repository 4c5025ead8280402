using System.Net;
using System.Text.Json;
using Plexus.Api;
using Plexus.TestKit;

namespace Plexus.Console.Tests;

/// <summary>The map's tile server option (--map-tiles): checked before it reaches a header, and the only other origin the page may load.</summary>
public sealed class MapTilesTests
{
    [Theory]
    [InlineData("https://tile.example.org/{z}/{x}.png", "has no {y}")]
    [InlineData("ftp://tile.example.org/{z}/{x}/{y}.png", "not an http or https URL")]
    [InlineData("https://user:secret@tile.example.org/{z}/{x}/{y}.png", "without credentials")]
    [InlineData("https://tile.example.org/{z}/{x}/{y}.png; script-src *", "not an http or https URL")]
    [InlineData("https://tile.example.org/{z}/{x}/{y}.png,'unsafe-inline'", "not an http or https URL")]
    [InlineData("/tiles/{z}/{x}/{y}.png", "not an http or https URL")]
    public void A_template_that_is_not_a_plain_http_url_with_the_three_placeholders_is_refused(string template, string reason)
    {
        var error = Assert.Throws<FormatException>(() => MapTiles.Parse(template, null));
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
        Assert.StartsWith("map-tiles:", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tile_template_gives_its_origin_and_keeps_its_attribution()
    {
        var tiles = MapTiles.Parse(" https://tiles.example.org:8443/osm/{z}/{x}/{y}.png ", " © OpenStreetMap contributors ");
        Assert.Equal("https://tiles.example.org:8443/osm/{z}/{x}/{y}.png", tiles.Template);
        Assert.Equal("https://tiles.example.org:8443", tiles.Origin);
        Assert.Equal("© OpenStreetMap contributors", tiles.Attribution);
        Assert.Throws<FormatException>(() => MapTiles.Parse("https://t.example.org/{z}/{x}/{y}.png", new string('x', 201)));
    }

    [Fact]
    public async Task With_a_tile_server_the_page_may_load_images_from_it_and_the_map_is_told_the_template()
    {
        var tiles = MapTiles.Parse("https://tiles.example.org/{z}/{x}/{y}.png", "Example tiles");
        await using var server = await PlexusTestServer.StartAsync(configure: options => options with { MapTiles = tiles });
        using var anonymous = new HttpClient { BaseAddress = server.Address };
        using var page = await anonymous.GetAsync("/");
        string policy = string.Join(" ", page.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("img-src 'self' data: https://tiles.example.org;", policy, StringComparison.Ordinal);
        Assert.Contains("connect-src 'self';", policy, StringComparison.Ordinal);

        using var positions = await server.Client.GetAsync("/api/v1/live/positions");
        Assert.Equal(HttpStatusCode.OK, positions.StatusCode);
        var basemap = JsonDocument.Parse(await positions.Content.ReadAsStringAsync()).RootElement.GetProperty("basemap");
        Assert.Equal("https://tiles.example.org/{z}/{x}/{y}.png", basemap.GetProperty("tiles").GetString());
        Assert.Equal("Example tiles", basemap.GetProperty("attribution").GetString());
    }

    [Fact]
    public async Task Without_a_tile_server_images_come_only_from_the_server_and_the_outline_is_served()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var anonymous = new HttpClient { BaseAddress = server.Address };
        using var page = await anonymous.GetAsync("/");
        Assert.Contains("img-src 'self' data:;", string.Join(" ", page.Headers.GetValues("Content-Security-Policy")), StringComparison.Ordinal);
        using var outline = await anonymous.GetAsync("/console/basemap/land-110m.json");
        Assert.Equal(HttpStatusCode.OK, outline.StatusCode);
        Assert.Equal("application/json", outline.Content.Headers.ContentType?.MediaType);
        Assert.Equal("Topology", JsonDocument.Parse(await outline.Content.ReadAsStringAsync()).RootElement.GetProperty("type").GetString());
        var basemap = JsonDocument.Parse(await server.Client.GetStringAsync("/api/v1/live/positions")).RootElement.GetProperty("basemap");
        Assert.Equal(JsonValueKind.Null, basemap.GetProperty("tiles").ValueKind);
    }
}
