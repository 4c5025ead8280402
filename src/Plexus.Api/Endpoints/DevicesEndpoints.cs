using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Plexus.Core;
using Plexus.Api.Auth;
using Plexus.Devices;
using static Plexus.Api.Endpoints.JsonBodies;

namespace Plexus.Api.Endpoints;

/// <summary>The device registry over HTTP (docs/devices.md): reading needs scope read, changing scope admin.</summary>
internal static class DevicesEndpoints
{
    private const int DefaultLimit = 100;
    private const int MaxLimit = 10_000;
    private const int MaxBulkItems = 10_000;

    public static void Map(IEndpointRouteBuilder endpoints, ApiContext context)
    {
        endpoints.MapPost("/api/v1/devices", AuditTrail.Audited(context, "device.add", "device", null, http => AddAsync(http, context)));
        endpoints.MapPost("/api/v1/devices/bulk", AuditTrail.Audited(context, "device.bulk_add", "device", null, http => BulkAsync(http, context)));
        endpoints.MapGet("/api/v1/devices", http => ListAsync(http, context));
        endpoints.MapGet("/api/v1/devices/{id}", http => GetAsync(http, context));
        endpoints.MapMethods("/api/v1/devices/{id}", ["PATCH"], AuditTrail.Audited(context, "device.update", "device", "id", http => UpdateAsync(http, context)));
        endpoints.MapDelete("/api/v1/devices/{id}", AuditTrail.Audited(context, "device.remove", "device", "id", http => RemoveAsync(http, context)));
        endpoints.MapPost("/api/v1/devices/{id}/rotate-token", AuditTrail.Audited(context, "device.rotate_token", "device", "id", http => RotateAsync(http, context)));
        endpoints.MapGet("/api/v1/dead-letters", http => DeviceStateEndpoints.DeadLettersAsync(http, context));
    }

    private static async Task AddAsync(HttpContext http, ApiContext context)
    {
        if (await RegistryAsync(http, context) is not { } registry)
        {
            return;
        }

        using var document = await ReadJsonAsync(http, """{"id": "truck-7", "name": "Truck 7", "tags": {"fleet": "East"}}""");
        if (document is null)
        {
            return;
        }

        try
        {
            var device = ParseNewDevice(document.RootElement);
            AuditTrail.Target(http, device.Id);
            var added = registry.Add(device);
            await WriteAsync(http, StatusCodes.Status201Created, json => WriteDevice(json, added.Device, added.Token));
        }
        catch (RegistryException error)
        {
            await WriteErrorAsync(http, error);
        }
    }

    /// <summary>
    /// A JSON array of devices, or with <c>Content-Type: text/csv</c> a CSV file (<see cref="DeviceCsv"/>); each item
    /// gets its own result, so one bad item does not stop the rest.
    /// </summary>
    private static async Task BulkAsync(HttpContext http, ApiContext context)
    {
        if (await RegistryAsync(http, context) is not { } registry)
        {
            return;
        }

        var items = new List<(int? Line, Func<NewDevice> Parse)>();
        JsonDocument? document = null;
        try
        {
            if (http.Request.ContentType?.StartsWith("text/csv", StringComparison.OrdinalIgnoreCase) == true)
            {
                if (await ReadCsvAsync(http, context) is not { } rows)
                {
                    return;
                }

                foreach (var row in rows)
                {
                    items.Add((row.Line, () => row.Device ?? throw row.Error!));
                }
            }
            else
            {
                document = await ReadJsonAsync(http, """[{"id": "d1"}, {"id": "d2", "tags": {"fleet": "East"}}]""", JsonValueKind.Array);
                if (document is null)
                {
                    return;
                }

                if (document.RootElement.GetArrayLength() > MaxBulkItems)
                {
                    await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", $"at most {MaxBulkItems} devices per bulk request; split the file");
                    return;
                }

                foreach (var item in document.RootElement.EnumerateArray())
                {
                    items.Add((null, () => ParseNewDevice(item)));
                }
            }

            await RegisterAllAsync(http, registry, items);
        }
        finally
        {
            document?.Dispose();
        }
    }

    private static async Task<List<DeviceCsvRow>?> ReadCsvAsync(HttpContext http, ApiContext context)
    {
        long max = context.Options.MaxBodyBytes;
        using var reader = new StreamReader(http.Request.Body, System.Text.Encoding.UTF8);
        var buffer = new char[16 * 1024];
        var text = new System.Text.StringBuilder();
        int read;
        while ((read = await reader.ReadAsync(buffer, http.RequestAborted)) > 0)
        {
            text.Append(buffer, 0, read);
            if (text.Length > max)
            {
                await ApiErrors.WriteAsync(http, StatusCodes.Status413PayloadTooLarge, "request too large", $"the CSV file is larger than the limit of {max} bytes; split it");
                return null;
            }
        }

        try
        {
            return DeviceCsv.Parse(text.ToString(), MaxBulkItems);
        }
        catch (FormatException error)
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", "CSV: " + error.Message + $" (expected a header and rows like: {DeviceCsv.Example.Replace("\n", " / ", StringComparison.Ordinal)})");
            return null;
        }
    }

    private static async Task RegisterAllAsync(HttpContext http, DeviceRegistry registry, List<(int? Line, Func<NewDevice> Parse)> items)
    {
        var results = new List<(int Index, int? Line, RegisteredDevice? Added, RegistryException? Error)>();
        int index = 0;
        foreach (var (line, parse) in items)
        {
            try
            {
                results.Add((index, line, registry.Add(parse()), null));
            }
            catch (RegistryException error)
            {
                results.Add((index, line, null, error));
            }

            index++;
        }

        int created = results.Count(r => r.Added is not null);
        AuditTrail.Detail(http, BulkDetail(created, results.Count - created, results.Where(r => r.Added is not null).Select(r => r.Added!.Device.Id)));
        await WriteAsync(http, StatusCodes.Status200OK, json =>
        {
            json.WriteNumber("created", created);
            json.WriteNumber("failed", results.Count - created);
            json.WriteStartArray("results");
            foreach (var (i, line, added, error) in results)
            {
                json.WriteStartObject();
                json.WriteNumber("index", i);
                if (line is not null)
                {
                    json.WriteNumber("line", line.Value);
                }

                if (added is not null)
                {
                    json.WriteString("status", "created");
                    json.WritePropertyName("device");
                    json.WriteStartObject();
                    WriteDevice(json, added.Device, added.Token);
                    json.WriteEndObject();
                }
                else
                {
                    json.WriteString("status", "error");
                    json.WriteString("code", CodeOf(error!.Kind));
                    if (error.Field is not null)
                    {
                        json.WriteString("field", error.Field);
                    }

                    json.WriteString("message", error.Message);
                }

                json.WriteEndObject();
            }

            json.WriteEndArray();
        });
    }

    private static async Task ListAsync(HttpContext http, ApiContext context)
    {
        if (await RegistryAsync(http, context, ApiScope.Read) is not { } registry)
        {
            return;
        }

        if (await ReadTagFiltersAsync(http, "fleet:East") is not { } filters || await ReadPageAsync(http, DefaultLimit, MaxLimit) is not (int limit, int offset))
        {
            return;
        }

        var page = registry.List(filters, limit, offset);
        await WritePageAsync(http, "devices", page.Devices, page.Total, (json, device) => WriteDevice(json, device, token: null));
    }

    private static async Task GetAsync(HttpContext http, ApiContext context)
    {
        if (await RegistryAsync(http, context, ApiScope.Read) is not { } registry)
        {
            return;
        }

        string id = IdOf(http);
        if (registry.Get(id) is not { } device)
        {
            await WriteErrorAsync(http, RegistryException.NotFound("id", $"no device \"{id}\" is registered"));
            return;
        }

        // Live state computed now: SQL for the last values, memory for the rest (docs/devices.md#live-state).
        var live = DeviceStateEndpoints.Read(context, id);
        await WriteAsync(http, StatusCodes.Status200OK, json =>
        {
            WriteDevice(json, device, token: null);
            DeviceStateEndpoints.Write(json, live);
        });
    }

    private static async Task UpdateAsync(HttpContext http, ApiContext context)
    {
        if (await RegistryAsync(http, context) is not { } registry)
        {
            return;
        }

        using var document = await ReadJsonAsync(http, """{"name": "Truck 7", "tags": {"fleet": "West"}, "parent": null, "measurements": ["telemetry"]}""");
        if (document is null)
        {
            return;
        }

        try
        {
            var root = document.RootElement;
            AuditTrail.Detail(http, ChangedFields(root));
            foreach (var property in root.EnumerateObject())
            {
                if (property.Name is not ("name" or "type" or "tags" or "parent" or "measurements"))
                {
                    throw RegistryException.Invalid(property.Name,
                        property.Name is "id" or "token" ? $"{property.Name} cannot be changed; remove and add the device, or rotate its token" : $"unknown field \"{property.Name}\"; send name, type, tags, parent or measurements");
                }
            }

            var changes = new DeviceChanges
            {
                NameSet = root.TryGetProperty("name", out _),
                Name = OptionalString(root, "name"),
                TypeSet = root.TryGetProperty("type", out _),
                Type = OptionalString(root, "type"),
                TagsSet = root.TryGetProperty("tags", out _),
                Tags = OptionalTags(root),
                ParentSet = root.TryGetProperty("parent", out _),
                Parent = OptionalString(root, "parent"),
                MeasurementsSet = root.TryGetProperty("measurements", out _),
                Measurements = OptionalMeasurements(root),
            };
            var updated = registry.Update(IdOf(http), changes);
            await WriteAsync(http, StatusCodes.Status200OK, json => WriteDevice(json, updated, token: null));
        }
        catch (RegistryException error)
        {
            await WriteErrorAsync(http, error);
        }
    }

    private static async Task RemoveAsync(HttpContext http, ApiContext context)
    {
        if (await RegistryAsync(http, context) is not { } registry)
        {
            return;
        }

        string id = IdOf(http);
        if (!registry.Remove(id))
        {
            await WriteErrorAsync(http, RegistryException.NotFound("id", $"no device \"{id}\" is registered"));
            return;
        }

        http.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    private static async Task RotateAsync(HttpContext http, ApiContext context)
    {
        if (await RegistryAsync(http, context) is not { } registry)
        {
            return;
        }

        try
        {
            string id = IdOf(http);
            string token = registry.RotateToken(id);
            await WriteAsync(http, StatusCodes.Status200OK, json =>
            {
                json.WriteString("id", id);
                json.WriteString("token", token);
            });
        }
        catch (RegistryException error)
        {
            await WriteErrorAsync(http, error);
        }
    }

    private static Task<DeviceRegistry?> RegistryAsync(HttpContext http, ApiContext context, ApiScope scope = ApiScope.Admin) =>
        PlexusApi.AdmitServiceAsync(http, context, scope, context.Devices, "the device registry is");

    private static string IdOf(HttpContext http) => http.Request.RouteValues["id"] as string ?? string.Empty;

    private static NewDevice ParseNewDevice(JsonElement item)
    {
        if (item.ValueKind != JsonValueKind.Object)
        {
            throw RegistryException.Invalid(null, "each device must be a JSON object like {\"id\": \"d1\"}");
        }

        foreach (var property in item.EnumerateObject())
        {
            if (property.Name is not ("id" or "name" or "type" or "tags" or "parent" or "measurements"))
            {
                throw RegistryException.Invalid(property.Name, $"unknown field \"{property.Name}\"; send id, name, type, tags, parent or measurements");
            }
        }

        string? id = OptionalString(item, "id");
        if (!DeviceValidation.IsValidId(id, out string? problem))
        {
            throw RegistryException.Invalid("id", problem!);
        }

        return new NewDevice(id!, OptionalString(item, "name"), OptionalString(item, "type"), OptionalTags(item), OptionalString(item, "parent"), OptionalMeasurements(item));
    }

    private static Dictionary<string, string>? OptionalTags(JsonElement root) => JsonBodies.OptionalTags(root, """{"fleet": "East"}""");

    private static List<string>? OptionalMeasurements(JsonElement root) => OptionalStringList(root, "measurements", """["telemetry", "power"]""");

    private static void WriteDevice(Utf8JsonWriter json, Device device, string? token)
    {
        WriteMetadata(json, device.Id, device.Name, device.Type, device.Tags, device.Parent, device.CreatedAt, device.UpdatedAt);
        if (device.Measurements is null)
        {
            json.WriteNull("measurements");
        }
        else
        {
            json.WriteStartArray("measurements");
            foreach (string measurement in device.Measurements)
            {
                json.WriteStringValue(measurement);
            }

            json.WriteEndArray();
        }

        if (token is not null)
        {
            json.WriteString("token", token);
        }
    }

}
