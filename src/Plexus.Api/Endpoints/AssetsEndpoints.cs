using System.Text;
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

/// <summary>Assets over HTTP (docs/assets.md): sites, buildings, fleets... that devices belong to; admin token required.</summary>
internal static class AssetsEndpoints
{
    private const int DefaultLimit = 100;
    private const int MaxLimit = 10_000;
    private const int MaxImportItems = 10_000;
    private const string Example = """{"id": "site-1", "name": "Plant 1", "type": "site", "tags": {"region": "EU"}, "parent": null}""";

    private static readonly RegistryRoute<AssetRegistry> Route = new(context => context.Assets, "assets are", "id", AssetRegistry.NotFound);

    public static void Map(IEndpointRouteBuilder endpoints, ApiContext context)
    {
        endpoints.MapPost("/api/v1/assets", AuditTrail.Audited(context, "asset.add", "asset", null, RegistryEndpoints.Change(Route, context, http => ReadJsonAsync(http, JsonValueKind.Object), AddAsync)));
        endpoints.MapPost("/api/v1/assets/import", AuditTrail.Audited(context, "asset.import", "asset", null, RegistryEndpoints.Run(Route, context, ApiScope.Admin, ImportAsync)));
        endpoints.MapGet("/api/v1/assets", RegistryEndpoints.Run(Route, context, ApiScope.Read, ListAsync));
        endpoints.MapGet("/api/v1/assets/{id}", RegistryEndpoints.Show(Route, context, (assets, id) => assets.Get(id), ShowAsync));
        endpoints.MapMethods("/api/v1/assets/{id}", ["PATCH"], AuditTrail.Audited(context, "asset.update", "asset", "id", RegistryEndpoints.Change(Route, context, http => ReadJsonAsync(http, JsonValueKind.Object), UpdateAsync)));
        endpoints.MapDelete("/api/v1/assets/{id}", AuditTrail.Audited(context, "asset.remove", "asset", "id", RegistryEndpoints.Remove(Route, context, Remove)));
    }

    private static Task AddAsync(HttpContext http, AssetRegistry assets, JsonDocument document)
    {
        var asset = ParseNewAsset(document.RootElement);
        AuditTrail.Target(http, asset.Id);
        var added = assets.Add(asset);
        return WriteAsync(http, StatusCodes.Status201Created, json => WriteAsset(json, added, null));
    }

    /// <summary>
    /// A JSON array of assets, or CSV (<c>Content-Type: text/csv</c>) with a header row. Each item stands alone; an item
    /// whose parent comes later in the same request is created after it, so a file need not be sorted.
    /// </summary>
    private static async Task ImportAsync(HttpContext http, AssetRegistry assets)
    {
        var items = new List<ImportItem>();
        bool csv = http.Request.ContentType?.Contains("csv", StringComparison.OrdinalIgnoreCase) == true;
        if (csv)
        {
            if (await ReadBoundedAsync(http, MaxJsonBodyBytes, $"the CSV body is larger than {MaxJsonBodyBytes / (1024 * 1024)} MiB; split the file") is not { } body)
            {
                return;
            }

            string text = Encoding.UTF8.GetString(body);
            if (!TryParseCsv(text, items, out string? problem))
            {
                await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", problem!);
                return;
            }
        }
        else
        {
            using var document = await ReadJsonAsync(http, JsonValueKind.Array);
            if (document is null)
            {
                return;
            }

            int index = 0;
            foreach (var element in document.RootElement.EnumerateArray())
            {
                try
                {
                    items.Add(new ImportItem(index, null, ParseNewAsset(element), null));
                }
                catch (RegistryException error)
                {
                    items.Add(new ImportItem(index, null, null, error));
                }

                index++;
            }
        }

        if (items.Count > MaxImportItems)
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", $"at most {MaxImportItems} assets per import; split the file");
            return;
        }

        await RegistryEndpoints.WriteBulkAsync(http, Import(assets, items), asset => asset.Id, (json, asset) => json.WriteString("id", asset.Id));
    }

    private static List<BulkResult<Asset>> Import(AssetRegistry assets, List<ImportItem> items)
    {
        var results = new List<BulkResult<Asset>>();
        var pending = new List<ImportItem>();
        foreach (var item in items)
        {
            if (item.Asset is null)
            {
                results.Add(new BulkResult<Asset>(item.Index, item.Line, null, item.Error));
            }
            else
            {
                pending.Add(item);
            }
        }

        // Passes until nothing more can be created; what is left then fails with the registry's own reason.
        while (pending.Count > 0)
        {
            var waitingIds = pending.Select(p => p.Asset!.Id).ToHashSet(StringComparer.Ordinal);
            var deferred = new List<ImportItem>();
            foreach (var item in pending)
            {
                string? parent = item.Asset!.Parent;
                if (parent is not null && assets.Get(parent) is null && waitingIds.Contains(parent) && parent != item.Asset.Id)
                {
                    deferred.Add(item);
                    continue;
                }

                results.Add(TryAdd(assets, item));
                waitingIds.Remove(item.Asset.Id);
            }

            if (deferred.Count == pending.Count)
            {
                results.AddRange(deferred.Select(item => TryAdd(assets, item)));
                break;
            }

            pending = deferred;
        }

        results.Sort((a, b) => a.Index.CompareTo(b.Index));
        return results;
    }

    private static BulkResult<Asset> TryAdd(AssetRegistry assets, ImportItem item) => BulkResult<Asset>.Try(item.Index, item.Line, () => assets.Add(item.Asset!));

    /// <summary>CSV as <see cref="AssetCsv"/> reads it; each row's id is then checked against the registry's rules.</summary>
    private static bool TryParseCsv(string text, List<ImportItem> items, out string? problem)
    {
        if (!AssetCsv.TryDecode(text, out var rows, out IngestError error))
        {
            problem = error.ToString();
            return false;
        }

        foreach (var row in rows)
        {
            if (row.Record is not { } asset)
            {
                items.Add(new ImportItem(items.Count, row.Line, null, CsvRowError(row.Error)));
            }
            else if (CsvIdError(asset.Id, row.Line, "asset") is { } refusal)
            {
                items.Add(new ImportItem(items.Count, row.Line, null, refusal));
            }
            else
            {
                items.Add(new ImportItem(items.Count, row.Line, new NewAsset(asset.Id, asset.Name, asset.Type, asset.Tags, asset.Parent), null));
            }
        }

        problem = null;
        return true;
    }

    private static async Task ListAsync(HttpContext http, AssetRegistry assets)
    {
        if (await ReadTagFiltersAsync(http, "region:EU") is not { } filters || await ReadPageAsync(http, DefaultLimit, MaxLimit) is not (int limit, int offset))
        {
            return;
        }

        string? type = http.Request.Query["type"];
        string? parent = http.Request.Query["parent"];
        var page = assets.List(string.IsNullOrEmpty(type) ? null : type, filters, string.IsNullOrEmpty(parent) ? null : parent, limit, offset);
        await WritePageAsync(http, "assets", page.Assets, page.Total, (json, asset) => WriteAsset(json, asset, null));
    }

    private static Task ShowAsync(HttpContext http, AssetRegistry assets, Asset asset)
    {
        var children = assets.Children(asset.Id);
        return WriteAsync(http, StatusCodes.Status200OK, json => WriteAsset(json, asset, children));
    }

    private static Task UpdateAsync(HttpContext http, AssetRegistry assets, JsonDocument document)
    {
        var changes = ReadChanges(http, document.RootElement, new AssetChanges(), ChangeableFields, TagsExample, RefusedChange);
        var updated = assets.Update(Route.KeyOf(http), changes);
        return WriteAsync(http, StatusCodes.Status200OK, json => WriteAsset(json, updated, null));
    }

    private static readonly string[] ChangeableFields = ["name", "type", "tags", "parent"];

    private static string RefusedChange(string field) =>
        field == "id" ? "id cannot be changed; add a new asset and move the children" : $"unknown field \"{field}\"; send name, type, tags or parent";

    /// <summary>Removes with <c>?cascade=detach|delete</c> saying what becomes of the children; without, children refuse it.</summary>
    private static bool Remove(HttpContext http, AssetRegistry assets, string id)
    {
        string? cascadeText = http.Request.Query["cascade"];
        var cascade = cascadeText switch
        {
            null or "" or "none" => AssetCascade.None,
            "detach" => AssetCascade.Detach,
            "delete" => AssetCascade.Delete,
            _ => throw RegistryException.Invalid("cascade", $"cascade \"{cascadeText}\" is not detach or delete"),
        };
        if (cascade != AssetCascade.None)
        {
            AuditTrail.Detail(http, "cascade " + cascadeText);
        }

        return assets.Remove(id, cascade);
    }

    private static Task<JsonDocument?> ReadJsonAsync(HttpContext http, JsonValueKind kind) =>
        JsonBodies.ReadJsonAsync(http, kind == JsonValueKind.Array ? $"[{Example}]" : Example, kind);

    private static NewAsset ParseNewAsset(JsonElement item)
    {
        if (item.ValueKind != JsonValueKind.Object)
        {
            throw RegistryException.Invalid(null, "each asset must be a JSON object like {\"id\": \"site-1\"}");
        }

        foreach (var property in item.EnumerateObject())
        {
            if (property.Name is not ("id" or "name" or "type" or "tags" or "parent"))
            {
                throw RegistryException.Invalid(property.Name, $"unknown field \"{property.Name}\"; send id, name, type, tags or parent");
            }
        }

        string? id = OptionalString(item, "id");
        if (!DeviceValidation.IsValidId(id, out string? problem))
        {
            throw RegistryException.Invalid("id", problem!.Replace("device id", "asset id", StringComparison.Ordinal));
        }

        return new NewAsset(id!, OptionalString(item, "name"), OptionalString(item, "type"), OptionalTags(item), OptionalString(item, "parent"));
    }

    private const string TagsExample = """{"region": "EU"}""";

    private static Dictionary<string, string>? OptionalTags(JsonElement root) => JsonBodies.OptionalTags(root, TagsExample);

    private static void WriteAsset(Utf8JsonWriter json, Asset asset, AssetChildren? children)
    {
        WriteMetadata(json, asset.Id, asset.Name, asset.Type, asset.Tags, asset.Parent, asset.CreatedAt, asset.UpdatedAt);
        if (children is not null)
        {
            json.WritePropertyName("children");
            json.WriteStartObject();
            WriteIds(json, "assets", children.Assets);
            WriteIds(json, "devices", children.Devices);
            json.WriteEndObject();
        }
    }

    private static void WriteIds(Utf8JsonWriter json, string name, IReadOnlyList<string> ids)
    {
        json.WriteStartArray(name);
        foreach (string id in ids)
        {
            json.WriteStringValue(id);
        }

        json.WriteEndArray();
    }

    private sealed record ImportItem(int Index, int? Line, NewAsset? Asset, RegistryException? Error);
}
