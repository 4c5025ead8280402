using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Plexus.Api;
using Plexus.Core;

namespace Plexus.Api.Tests;

/// <summary>The one mapping of a registry refusal to an HTTP answer, used by the devices, assets, geofences and position-sources endpoints.</summary>
public sealed class RegistryErrorsTests
{
    [Theory]
    [InlineData(RegistryErrorKind.Invalid, 400, "invalid")]
    [InlineData(RegistryErrorKind.NotFound, 404, "not_found")]
    [InlineData(RegistryErrorKind.Conflict, 409, "conflict")]
    [InlineData(RegistryErrorKind.TooLarge, 413, "too_large")]
    public void Kind_maps_to_its_status_and_code(RegistryErrorKind kind, int status, string code) =>
        Assert.Equal((status, code), RegistryErrors.Of(kind));

    [Fact]
    public void Every_kind_has_an_answer()
    {
        foreach (var kind in Enum.GetValues<RegistryErrorKind>())
        {
            var (status, code) = RegistryErrors.Of(kind);
            Assert.InRange(status, 400, 499);
            Assert.NotEmpty(code);
        }
    }

    [Fact]
    public void Kind_outside_the_enum_is_refused_rather_than_answered_as_invalid() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => RegistryErrors.Of((RegistryErrorKind)99));

    [Theory]
    [InlineData("tags")]
    [InlineData(null)]
    public async Task Refusal_is_written_in_the_api_error_shape_with_its_field(string? field)
    {
        var http = new DefaultHttpContext();
        using var body = new MemoryStream();
        http.Response.Body = body;

        await RegistryErrors.WriteAsync(http, RegistryException.Conflict(field, "a device \"d1\" is already registered"));

        Assert.Equal(409, http.Response.StatusCode);
        Assert.StartsWith("application/json", http.Response.ContentType, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(body.ToArray());
        var root = json.RootElement;
        Assert.Equal("conflict", root.GetProperty("code").GetString());
        Assert.Equal("a device \"d1\" is already registered", root.GetProperty("message").GetString());
        Assert.Equal("a device \"d1\" is already registered", root.GetProperty("error").GetString());
        Assert.False(string.IsNullOrEmpty(root.GetProperty("error_id").GetString()));
        Assert.Equal(field, root.TryGetProperty("field", out var value) ? value.GetString() : null);
    }
}
