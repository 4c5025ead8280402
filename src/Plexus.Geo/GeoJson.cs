using System.Globalization;
using System.Text.Json;
using Plexus.Core;

namespace Plexus.Geo;

/// <summary>A GeoJSON document that is not a usable shape; the message names the JSON path and the reason.</summary>
public sealed class GeoJsonException : FormatException
{
    public GeoJsonException()
    {
    }

    public GeoJsonException(string message)
        : base(message)
    {
    }

    public GeoJsonException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public GeoJsonException(string path, string reason)
        : base($"{path}: {reason}")
    {
        Path = path;
    }

    /// <summary>Where in the document the problem is, as a JSON path (e.g. <c>$.geometry.coordinates[0][3]</c>).</summary>
    public string? Path { get; }
}

/// <summary>A geofence as sent: its shape and the Feature's other properties (kept as JSON text).</summary>
public sealed record GeofenceFeature(GeoShape Shape, string? Name, string PropertiesJson);

/// <summary>
/// Reads and writes the GeoJSON (RFC 7946) that geofences and <c>geo_in_polygon</c> use: Polygon and
/// MultiPolygon geometries, Features holding them, and circles as a Point Feature with a <c>radius_m</c> property.
/// Positions are <c>[longitude, latitude]</c> (optionally a third number, the altitude, which is ignored).
/// </summary>
public static class GeoJson
{
    /// <summary>Most positions one shape may have, so that one geofence cannot make every query slow.</summary>
    public const int MaxPositions = 100_000;

    /// <summary>The largest circle radius accepted, in metres (a quarter of the Earth's circumference).</summary>
    public const double MaxRadiusM = 10_000_000;

    private const string LonLatHint = "GeoJSON positions are [longitude, latitude]";

    /// <summary>Parses Polygon or MultiPolygon text, bare or inside a Feature (what <c>geo_in_polygon</c> accepts).</summary>
    public static GeoPolygons ParsePolygonText(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(text);
        }
        catch (JsonException error)
        {
            throw new GeoJsonException("$", $"not JSON: {error.Message}");
        }

        using (document)
        {
            var root = document.RootElement;
            string path = "$";
            if (root.ValueKind == JsonValueKind.Object && TypeOf(root, path) == "Feature")
            {
                path = "$.geometry";
                root = Required(root, "geometry", "$");
            }

            return ParseGeometry(root, path) as GeoPolygons
                ?? throw new GeoJsonException(path + ".type", "expected a Polygon or MultiPolygon geometry");
        }
    }

    /// <summary>
    /// Reads a geofence Feature: a Polygon or MultiPolygon geometry, or a Point with a positive
    /// <c>properties.radius_m</c> (a circle). The name comes from <c>properties.name</c> or the Feature's <c>id</c>.
    /// </summary>
    public static GeofenceFeature ParseFeature(JsonElement feature)
    {
        if (feature.ValueKind != JsonValueKind.Object)
        {
            throw new GeoJsonException("$", "expected a GeoJSON Feature object like {\"type\": \"Feature\", \"properties\": {\"name\": \"depot-7\"}, \"geometry\": {\"type\": \"Polygon\", \"coordinates\": [[[4.3, 52.1], ...]]}}");
        }

        string type = TypeOf(feature, "$");
        if (type != "Feature")
        {
            throw new GeoJsonException("$.type", $"expected \"Feature\", not \"{type}\"; wrap the geometry as {{\"type\": \"Feature\", \"properties\": {{}}, \"geometry\": ...}}");
        }

        string? name = null;
        if (feature.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String)
        {
            name = id.GetString();
        }

        string propertiesJson = "{}";
        double? radius = null;
        if (feature.TryGetProperty("properties", out var properties) && properties.ValueKind != JsonValueKind.Null)
        {
            if (properties.ValueKind != JsonValueKind.Object)
            {
                throw new GeoJsonException("$.properties", "must be an object or null");
            }

            if (properties.TryGetProperty("name", out var propertyName))
            {
                name = propertyName.ValueKind == JsonValueKind.String
                    ? propertyName.GetString()
                    : throw new GeoJsonException("$.properties.name", "must be a string");
            }

            if (properties.TryGetProperty("radius_m", out var radiusElement))
            {
                radius = radiusElement.ValueKind == JsonValueKind.Number && radiusElement.TryGetDouble(out double r)
                    ? r
                    : throw new GeoJsonException("$.properties.radius_m", "must be a number of metres");
            }

            propertiesJson = properties.GetRawText();
        }

        var geometry = Required(feature, "geometry", "$");
        if (geometry.ValueKind == JsonValueKind.Object && TypeOf(geometry, "$.geometry") == "Point")
        {
            var centre = Position(Required(geometry, "coordinates", "$.geometry"), "$.geometry.coordinates");
            if (radius is not { } radiusM)
            {
                throw new GeoJsonException("$.properties.radius_m", "a Point geofence is a circle and needs a radius in metres, e.g. \"properties\": {\"radius_m\": 250}");
            }

            if (!(radiusM > 0) || radiusM > MaxRadiusM)
            {
                throw new GeoJsonException("$.properties.radius_m", $"must be more than 0 and at most {MaxRadiusM.ToString(CultureInfo.InvariantCulture)} metres, not {radiusM.ToString(CultureInfo.InvariantCulture)}");
            }

            return new GeofenceFeature(new GeoCircle(centre.Lat, centre.Lon, radiusM), name, propertiesJson);
        }

        if (radius is not null)
        {
            throw new GeoJsonException("$.properties.radius_m", "only a Point geofence (a circle) has a radius; remove radius_m or send a Point geometry");
        }

        return new GeofenceFeature(ParseGeometry(geometry, "$.geometry"), name, propertiesJson);
    }

    /// <summary>A Polygon, MultiPolygon or (for circles) nothing else: validated, closed rings, valid ranges.</summary>
    public static GeoShape ParseGeometry(JsonElement geometry, string path)
    {
        if (geometry.ValueKind != JsonValueKind.Object)
        {
            throw new GeoJsonException(path, "expected a GeoJSON geometry object like {\"type\": \"Polygon\", \"coordinates\": [[[lon, lat], ...]]}");
        }

        string type = TypeOf(geometry, path);
        var coordinates = Required(geometry, "coordinates", path);
        int budget = MaxPositions;
        switch (type)
        {
            case "Polygon":
                return new GeoPolygons([Polygon(coordinates, path + ".coordinates", ref budget)], isMulti: false);
            case "MultiPolygon":
                if (coordinates.ValueKind != JsonValueKind.Array || coordinates.GetArrayLength() == 0)
                {
                    throw new GeoJsonException(path + ".coordinates", "a MultiPolygon needs an array of at least one polygon");
                }

                var polygons = new List<IReadOnlyList<GeoRing>>();
                int i = 0;
                foreach (var polygon in coordinates.EnumerateArray())
                {
                    polygons.Add(Polygon(polygon, $"{path}.coordinates[{i++}]", ref budget));
                }

                return new GeoPolygons(polygons, isMulti: true);
            default:
                throw new GeoJsonException(path + ".type", $"\"{type}\" is not supported here; send a Polygon or MultiPolygon (or, for a circle, a Point Feature with properties.radius_m)");
        }
    }

    /// <summary>Writes a shape as a GeoJSON geometry (a circle as its centre Point).</summary>
    public static void WriteGeometry(Utf8JsonWriter json, GeoShape shape)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(shape);
        json.WriteStartObject();
        switch (shape)
        {
            case GeoCircle circle:
                json.WriteString("type", "Point");
                json.WriteStartArray("coordinates");
                json.WriteNumberValue(circle.Lon);
                json.WriteNumberValue(circle.Lat);
                json.WriteEndArray();
                break;
            case GeoPolygons polygons:
                json.WriteString("type", polygons.IsMulti ? "MultiPolygon" : "Polygon");
                json.WriteStartArray("coordinates");
                foreach (var polygon in polygons.IsMulti ? polygons.Polygons : polygons.Polygons.Take(1))
                {
                    if (polygons.IsMulti)
                    {
                        json.WriteStartArray();
                    }

                    foreach (var ring in polygon)
                    {
                        json.WriteStartArray();
                        for (int i = 0; i < ring.Count; i++)
                        {
                            json.WriteStartArray();
                            json.WriteNumberValue(ring.Lons[i]);
                            json.WriteNumberValue(ring.Lats[i]);
                            json.WriteEndArray();
                        }

                        json.WriteEndArray();
                    }

                    if (polygons.IsMulti)
                    {
                        json.WriteEndArray();
                    }
                }

                json.WriteEndArray();
                break;
            default:
                throw new ArgumentException($"unknown shape {shape.GetType().Name}", nameof(shape));
        }

        json.WriteEndObject();
    }

    public static string GeometryText(GeoShape shape)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, ReadableJson.Options))
        {
            WriteGeometry(json, shape);
        }

        return System.Text.Encoding.UTF8.GetString(stream.GetBuffer(), 0, (int)stream.Length);
    }

    private static List<GeoRing> Polygon(JsonElement rings, string path, ref int budget)
    {
        if (rings.ValueKind != JsonValueKind.Array || rings.GetArrayLength() == 0)
        {
            throw new GeoJsonException(path, "a Polygon needs an array of rings: the outer ring, then any holes, each [[lon, lat], ...]");
        }

        var result = new List<GeoRing>();
        int i = 0;
        foreach (var ring in rings.EnumerateArray())
        {
            result.Add(Ring(ring, $"{path}[{i++}]", ref budget));
        }

        return result;
    }

    private static GeoRing Ring(JsonElement ring, string path, ref int budget)
    {
        if (ring.ValueKind != JsonValueKind.Array)
        {
            throw new GeoJsonException(path, "a ring must be an array of [lon, lat] positions");
        }

        int count = ring.GetArrayLength();
        if (count < 4)
        {
            throw new GeoJsonException(path, $"a ring needs at least 4 positions (a triangle plus the first position repeated to close it), not {count}");
        }

        budget -= count;
        if (budget < 0)
        {
            throw new GeoJsonException(path, $"the shape has more than {MaxPositions} positions; simplify it");
        }

        var lons = new double[count];
        var lats = new double[count];
        int i = 0;
        foreach (var position in ring.EnumerateArray())
        {
            var (lat, lon) = Position(position, $"{path}[{i}]");
            if (i > 0 && Math.Abs(lon - lons[i - 1]) > 180)
            {
                throw new GeoJsonException($"{path}[{i}]", $"the edge from longitude {Text(lons[i - 1])} to {Text(lon)} crosses the antimeridian; split the shape at ±180° into a MultiPolygon (RFC 7946 §3.1.9)");
            }

            lons[i] = lon;
            lats[i] = lat;
            i++;
        }

        if (lons[0] != lons[count - 1] || lats[0] != lats[count - 1])
        {
            throw new GeoJsonException(path, $"the ring is not closed: its last position [{Text(lons[count - 1])}, {Text(lats[count - 1])}] must repeat its first [{Text(lons[0])}, {Text(lats[0])}]");
        }

        return new GeoRing(lons, lats);
    }

    private static (double Lat, double Lon) Position(JsonElement position, string path)
    {
        if (position.ValueKind != JsonValueKind.Array || position.GetArrayLength() is < 2 or > 3)
        {
            throw new GeoJsonException(path, $"a position must be [longitude, latitude] (or [longitude, latitude, altitude]); {LonLatHint}");
        }

        double lon = Number(position[0], path + "[0]");
        double lat = Number(position[1], path + "[1]");
        if (lat is < -90 or > 90)
        {
            string swapped = lon is >= -90 and <= 90 ? $" — did you send [latitude, longitude]? {LonLatHint}" : "";
            throw new GeoJsonException(path + "[1]", $"latitude {Text(lat)} is outside -90..90{swapped}");
        }

        if (lon is < -180 or > 180)
        {
            throw new GeoJsonException(path + "[0]", $"longitude {Text(lon)} is outside -180..180");
        }

        return (lat, lon);
    }

    private static double Number(JsonElement element, string path) =>
        element.ValueKind == JsonValueKind.Number && element.TryGetDouble(out double value) && double.IsFinite(value)
            ? value
            : throw new GeoJsonException(path, $"must be a number of degrees; {LonLatHint}");

    private static string TypeOf(JsonElement element, string path) =>
        element.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String
            ? type.GetString()!
            : throw new GeoJsonException(path + ".type", "missing: a GeoJSON object needs a \"type\" (Feature, Polygon, MultiPolygon, Point)");

    private static JsonElement Required(JsonElement element, string name, string path) =>
        element.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null
            ? value
            : throw new GeoJsonException($"{path}.{name}", "missing");

    private static string Text(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
