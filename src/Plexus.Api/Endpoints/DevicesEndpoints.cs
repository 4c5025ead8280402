using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Plexus.Api.Auth;
using Plexus.Core;
using Plexus.Devices;
using Plexus.Ingest;
using Plexus.Ingest.Csv;
using static Plexus.Api.Endpoints.JsonBodies;

namespace Plexus.Api.Endpoints;

/// <summary>The device registry over HTTP (docs/devices.md): reading needs scope read, changing scope admin.</summary>
internal static class DevicesEndpoints
{
    private const int DefaultLimit = 100;
    private const int MaxLimit = 10_000;
    private const int MaxBulkItems = 10_000;

    private const string NewDeviceExample = """{"id": "truck-7", "name": "Truck 7", "tags": {"fleet": "East"}}""";
    private const string ChangesExample = """{"name": "Truck 7", "tags": {"fleet": "West"}, "parent": null, "measurements": ["telemetry"]}""";

    private static readonly RegistryRoute<DeviceRegistry> Route = new(context => context.Devices, "the device registry is", "id", DeviceRegistry.NotFound);

    public static void Map(IEndpointRouteBuilder endpoints, ApiContext context)
    {
        endpoints.MapPost("/api/v1/devices", AuditTrail.Audited(context, "device.add", "device", null, RegistryEndpoints.Change(Route, context, http => ReadJsonAsync(http, NewDeviceExample), AddAsync)));
        endpoints.MapPost("/api/v1/devices/bulk", AuditTrail.Audited(context, "device.bulk_add", "device", null, RegistryEndpoints.Run(Route, context, ApiScope.Admin, (http, registry) => BulkAsync(http, context, registry))));
        endpoints.MapGet("/api/v1/devices", RegistryEndpoints.Run(Route, context, ApiScope.Read, (http, registry) => ListAsync(http, context, registry)));
        endpoints.MapGet("/api/v1/devices/{id}", RegistryEndpoints.Show(Route, context, (registry, id) => registry.Get(id), (http, _, device) => ShowAsync(http, context, device)));
        endpoints.MapMethods("/api/v1/devices/{id}", ["PATCH"], AuditTrail.Audited(context, "device.update", "device", "id", RegistryEndpoints.Change(Route, context, http => ReadJsonAsync(http, ChangesExample), UpdateAsync)));
        endpoints.MapDelete("/api/v1/devices/{id}", AuditTrail.Audited(context, "device.remove", "device", "id", RegistryEndpoints.Remove(Route, context, (_, registry, id) => Remove(context, registry, id))));
        endpoints.MapPost("/api/v1/devices/{id}/rotate-token", AuditTrail.Audited(context, "device.rotate_token", "device", "id", RegistryEndpoints.Run(Route, context, ApiScope.Admin, RotateAsync)));
        endpoints.MapGet("/api/v1/dead-letters", http => DeviceStateEndpoints.DeadLettersAsync(http, context));
    }

    private static Task AddAsync(HttpContext http, DeviceRegistry registry, JsonDocument document)
    {
        var device = ParseNewDevice(document.RootElement);
        AuditTrail.Target(http, device.Id);
        var added = registry.Add(device);
        return WriteAsync(http, StatusCodes.Status201Created, json => WriteDevice(json, added.Device, added.Token));
    }

    /// <summary>
    /// A JSON array of devices, or with <c>Content-Type: text/csv</c> a CSV file (<see cref="DeviceCsv"/>); each item
    /// gets its own result, so one bad item does not stop the rest.
    /// </summary>
    private static async Task BulkAsync(HttpContext http, ApiContext context, DeviceRegistry registry)
    {
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
                    items.Add((row.Line, () => ToNewDevice(row)));
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

            // Parsed first, each on its own; then registered together (one sync, one transaction for the lot).
            var parsed = new List<NewDevice>();
            var parsedIndexes = new List<int>();
            var results = new BulkResult<RegisteredDevice>[items.Count];
            for (int index = 0; index < items.Count; index++)
            {
                try
                {
                    parsed.Add(items[index].Parse());
                    parsedIndexes.Add(index);
                }
                catch (RegistryException error)
                {
                    results[index] = new BulkResult<RegisteredDevice>(index, items[index].Line, null, error);
                }
            }

            var registered = registry.AddMany(parsed);
            for (int i = 0; i < registered.Count; i++)
            {
                int index = parsedIndexes[i];
                results[index] = new BulkResult<RegisteredDevice>(index, items[index].Line, registered[i].Added, registered[i].Error);
            }

            await RegistryEndpoints.WriteBulkAsync(http, results, added => added.Device.Id, (json, added) =>
            {
                json.WritePropertyName("device");
                json.WriteStartObject();
                WriteDevice(json, added.Device, added.Token);
                json.WriteEndObject();
            });
        }
        finally
        {
            document?.Dispose();
        }
    }

    /// <summary>A row <see cref="DeviceCsv"/> read, checked against the registry's id rules; throws what the row is refused for.</summary>
    private static NewDevice ToNewDevice(CsvRow<DeviceCsvRecord> row)
    {
        if (row.Record is not { } device)
        {
            throw CsvRowError(row.Error);
        }

        return CsvIdError(device.Id, row.Line, "device") is { } refusal
            ? throw refusal
            : new NewDevice(device.Id!, device.Name, device.Type, device.Tags, device.Parent, device.Measurements);
    }

    private static async Task<List<CsvRow<DeviceCsvRecord>>?> ReadCsvAsync(HttpContext http, ApiContext context)
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

        if (!DeviceCsv.TryDecode(text.ToString(), MaxBulkItems, out var rows, out IngestError error))
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", "CSV: " + error + $" (expected a header and rows like: {DeviceCsv.Example.Replace("\n", " / ", StringComparison.Ordinal)})");
            return null;
        }

        return rows;
    }

    private static async Task ListAsync(HttpContext http, ApiContext context, DeviceRegistry registry)
    {
        if (await ReadTagFiltersAsync(http, "fleet:East") is not { } filters || await ReadPageAsync(http, DefaultLimit, MaxLimit) is not (int limit, int offset))
        {
            return;
        }

        string? online = http.Request.Query["online"];
        if (!string.IsNullOrEmpty(online) && online is not ("true" or "false"))
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", $"online must be true or false, not \"{online}\"", extra: json => json.WriteString("field", "online"));
            return;
        }

        var live = context.DeviceState;
        var match = DeviceMatch(http.Request.Query["q"], http.Request.Query["type"], string.IsNullOrEmpty(online) ? null : online == "true", live);
        var page = registry.List(filters.Count == 0 ? null : filters, match, limit, offset);
        await WritePageAsync(http, "devices", page.Devices, page.Total, (json, device) =>
        {
            WriteDevice(json, device, token: null);
            if (live is not null)
            {
                json.WriteBoolean("online", live.IsOnline(device.Id));
                if (live.LastSeen(device.Id) is { } seen)
                {
                    json.WriteString("last_seen", seen);
                }
                else
                {
                    json.WriteNull("last_seen");
                }
            }
        });
    }

    /// <summary>
    /// The console's filters: <c>q</c> a case-insensitive part of the id or name, <c>type</c> the exact type,
    /// <c>online</c> the live state; null when none is given.
    /// </summary>
    private static Func<Device, bool>? DeviceMatch(string? text, string? type, bool? online, DeviceLiveState? live)
    {
        if (string.IsNullOrEmpty(text) && string.IsNullOrEmpty(type) && online is null)
        {
            return null;
        }

        return device =>
            (string.IsNullOrEmpty(text) || device.Id.Contains(text, StringComparison.OrdinalIgnoreCase) || (device.Name?.Contains(text, StringComparison.OrdinalIgnoreCase) ?? false))
            && (string.IsNullOrEmpty(type) || string.Equals(device.Type, type, StringComparison.Ordinal))
            && (online is null || (live?.IsOnline(device.Id) ?? false) == online);
    }

    private static Task ShowAsync(HttpContext http, ApiContext context, Device device)
    {
        // Live state computed now: SQL for the last values, memory for the rest (docs/devices.md#live-state).
        var live = DeviceStateEndpoints.Read(context, device.Id);
        return WriteAsync(http, StatusCodes.Status200OK, json =>
        {
            WriteDevice(json, device, token: null);
            DeviceCertificatesEndpoints.WriteList(json, context.Devices!.Certificates.List(device.Id));
            DeviceStateEndpoints.Write(json, live);
            DeviceTwinEndpoints.WriteDesired(json, context, device.Id);
        });
    }

    /// <summary>A removed device's desired properties go with it, so a device registered later under its id starts without them.</summary>
    private static bool Remove(ApiContext context, DeviceRegistry registry, string id)
    {
        if (!registry.Remove(id))
        {
            return false;
        }

        _ = context.Desired?.RemoveAsync(id);
        return true;
    }

    private static Task UpdateAsync(HttpContext http, DeviceRegistry registry, JsonDocument document)
    {
        var root = document.RootElement;
        var changes = ReadChanges(http, root, new DeviceChanges(), ChangeableFields, TagsExample, RefusedChange);
        changes = changes with { MeasurementsSet = root.TryGetProperty("measurements", out _), Measurements = OptionalMeasurements(root) };
        var updated = registry.Update(Route.KeyOf(http), changes);
        return WriteAsync(http, StatusCodes.Status200OK, json => WriteDevice(json, updated, token: null));
    }

    private static readonly string[] ChangeableFields = ["name", "type", "tags", "parent", "measurements"];

    private static string RefusedChange(string field) =>
        field is "id" or "token" ? $"{field} cannot be changed; remove and add the device, or rotate its token" : $"unknown field \"{field}\"; send name, type, tags, parent or measurements";

    private static Task RotateAsync(HttpContext http, DeviceRegistry registry)
    {
        string id = Route.KeyOf(http);
        string token = registry.RotateToken(id);
        return WriteAsync(http, StatusCodes.Status200OK, json =>
        {
            json.WriteString("id", id);
            json.WriteString("token", token);
        });
    }

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

    private const string TagsExample = """{"fleet": "East"}""";

    private static Dictionary<string, string>? OptionalTags(JsonElement root) => JsonBodies.OptionalTags(root, TagsExample);

    private static List<string>? OptionalMeasurements(JsonElement root) => OptionalStringList(root, "measurements", """["telemetry", "power"]""");

    private static void WriteDevice(Utf8JsonWriter json, Device device, string? token)
    {
        WriteMetadata(json, device.Id, device.Name, device.Type, device.Tags, device.Parent, device.CreatedAt, device.UpdatedAt);
        WriteStringListOrNull(json, "measurements", device.Measurements);

        if (token is not null)
        {
            json.WriteString("token", token);
        }
    }

}
