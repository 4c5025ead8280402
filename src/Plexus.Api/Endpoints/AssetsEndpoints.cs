using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Plexus.Core;
using Plexus.Api.Auth;
using Plexus.Devices;
using static Plexus.Api.Endpoints.JsonBodies;

namespace Plexus.Api.Endpoints;

/// <summary>Assets over HTTP (docs/assets.md): sites, buildings, fleets... that devices belong to; admin token required.</summary>
internal static class AssetsEndpoints
{
    private const int DefaultLimit = 100;
    private const int MaxLimit = 10_000;
    private const int MaxImportItems = 10_000;
    private const string Example = """{"id": "site-1", "name": "Plant 1", "type": "site", "tags": {"region": "EU"}, "parent": null}""";

    public static void Map(IEndpointRouteBuilder endpoints, ApiContext context)
    {
        endpoints.MapPost("/api/v1/assets", AuditTrail.Audited(context, "asset.add", "asset", null, http => AddAsync(http, context)));
        endpoints.MapPost("/api/v1/assets/import", AuditTrail.Audited(context, "asset.import", "asset", null, http => ImportAsync(http, context)));
        endpoints.MapGet("/api/v1/assets", http => ListAsync(http, context));
        endpoints.MapGet("/api/v1/assets/{id}", http => GetAsync(http, context));
        endpoints.MapMethods("/api/v1/assets/{id}", ["PATCH"], AuditTrail.Audited(context, "asset.update", "asset", "id", http => UpdateAsync(http, context)));
        endpoints.MapDelete("/api/v1/assets/{id}", AuditTrail.Audited(context, "asset.remove", "asset", "id", http => RemoveAsync(http, context)));
    }

    private static async Task AddAsync(HttpContext http, ApiContext context)
    {
        if (await RegistryAsync(http, context) is not { } assets)
        {
            return;
        }

        using var document = await ReadJsonAsync(http, JsonValueKind.Object);
        if (document is null)
        {
            return;
        }

        try
        {
            var asset = ParseNewAsset(document.RootElement);
            AuditTrail.Target(http, asset.Id);
            var added = assets.Add(asset);
            await WriteAsync(http, StatusCodes.Status201Created, json => WriteAsset(json, added, null));
        }
        catch (RegistryException error)
        {
            await WriteErrorAsync(http, error);
        }
    }

    /// <summary>
    /// A JSON array of assets, or CSV (<c>Content-Type: text/csv</c>) with a header row. Each item stands alone; an item
    /// whose parent comes later in the same request is created after it, so a file need not be sorted.
    /// </summary>
    private static async Task ImportAsync(HttpContext http, ApiContext context)
    {
        if (await RegistryAsync(http, context) is not { } assets)
        {
            return;
        }

        var items = new List<ImportItem>();
        bool csv = http.Request.ContentType?.Contains("csv", StringComparison.OrdinalIgnoreCase) == true;
        if (csv)
        {
            using var reader = new StreamReader(http.Request.Body, Encoding.UTF8);
            string text = await reader.ReadToEndAsync(http.RequestAborted);
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

        var results = Import(assets, items);
        int created = results.Count(r => r.Created is not null);
        AuditTrail.Detail(http, BulkDetail(created, results.Count - created, results.Where(r => r.Created is not null).Select(r => r.Created!.Id)));
        await WriteAsync(http, StatusCodes.Status200OK, json =>
        {
            json.WriteNumber("created", created);
            json.WriteNumber("failed", results.Count - created);
            json.WriteStartArray("results");
            foreach (var result in results)
            {
                json.WriteStartObject();
                json.WriteNumber("index", result.Item.Index);
                if (result.Item.Line is { } line)
                {
                    json.WriteNumber("line", line);
                }

                if (result.Created is not null)
                {
                    json.WriteString("status", "created");
                    json.WriteString("id", result.Created.Id);
                }
                else
                {
                    json.WriteString("status", "error");
                    json.WriteString("code", CodeOf(result.Error!.Kind));
                    if (result.Error.Field is not null)
                    {
                        json.WriteString("field", result.Error.Field);
                    }

                    json.WriteString("message", result.Error.Message);
                }

                json.WriteEndObject();
            }

            json.WriteEndArray();
        });
    }

    private static List<(ImportItem Item, Asset? Created, RegistryException? Error)> Import(AssetRegistry assets, List<ImportItem> items)
    {
        var results = new List<(ImportItem Item, Asset? Created, RegistryException? Error)>();
        var pending = new List<ImportItem>();
        foreach (var item in items)
        {
            if (item.Asset is null)
            {
                results.Add((item, null, item.Error));
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

        results.Sort((a, b) => a.Item.Index.CompareTo(b.Item.Index));
        return results;
    }

    private static (ImportItem, Asset?, RegistryException?) TryAdd(AssetRegistry assets, ImportItem item)
    {
        try
        {
            return (item, assets.Add(item.Asset!), null);
        }
        catch (RegistryException error)
        {
            return (item, null, error);
        }
    }

    /// <summary>CSV with a header: <c>id</c> (required), <c>name</c>, <c>type</c>, <c>parent</c>, and <c>tags.KEY</c> columns.</summary>
    private static bool TryParseCsv(string text, List<ImportItem> items, out string? problem)
    {
        problem = null;
        List<(int Line, List<string> Cells)> rows;
        try
        {
            rows = DeviceCsv.ReadRecords(text);
        }
        catch (FormatException error)
        {
            problem = error.Message;
            return false;
        }

        if (rows.Count == 0)
        {
            problem = "the CSV is empty; send a header row such as id,name,type,parent,tags.region and one row per asset";
            return false;
        }

        var header = rows[0].Cells;
        int id = -1;
        for (int i = 0; i < header.Count; i++)
        {
            string column = header[i].Trim();
            if (column == "id")
            {
                id = i;
            }
            else if (column is not ("name" or "type" or "parent") && !(column.StartsWith("tags.", StringComparison.Ordinal) && column.Length > 5))
            {
                problem = $"CSV header column {i + 1} \"{column}\" is unknown; use id, name, type, parent and tags.KEY";
                return false;
            }
        }

        if (id < 0)
        {
            problem = "the CSV header has no id column; send a header row such as id,name,type,parent,tags.region";
            return false;
        }

        for (int r = 1; r < rows.Count; r++)
        {
            var (line, fields) = rows[r];
            if (fields.Count != header.Count)
            {
                items.Add(new ImportItem(items.Count, line, null, RegistryException.Invalid(null, $"line {line} has {fields.Count} fields; the header has {header.Count}")));
                continue;
            }

            string? name = null, type = null, parent = null;
            var tags = new Dictionary<string, string>(StringComparer.Ordinal);
            for (int i = 0; i < header.Count; i++)
            {
                string column = header[i].Trim();
                string? value = fields[i].Length == 0 ? null : fields[i];
                switch (column)
                {
                    case "id":
                        break;
                    case "name":
                        name = value;
                        break;
                    case "type":
                        type = value;
                        break;
                    case "parent":
                        parent = value;
                        break;
                    default:
                        if (value is not null)
                        {
                            tags[column[5..]] = value;
                        }

                        break;
                }
            }

            string assetId = fields[id].Trim();
            if (!DeviceValidation.IsValidId(assetId, out string? idProblem))
            {
                items.Add(new ImportItem(items.Count, line, null, RegistryException.Invalid("id", $"line {line}: {idProblem!.Replace("device id", "asset id", StringComparison.Ordinal)}")));
                continue;
            }

            items.Add(new ImportItem(items.Count, line, new NewAsset(assetId, name, type, tags, parent), null));
        }

        return true;
    }

    private static async Task ListAsync(HttpContext http, ApiContext context)
    {
        if (await RegistryAsync(http, context, ApiScope.Read) is not { } assets)
        {
            return;
        }

        if (await ReadTagFiltersAsync(http, "region:EU") is not { } filters || await ReadPageAsync(http, DefaultLimit, MaxLimit) is not (int limit, int offset))
        {
            return;
        }

        string? type = http.Request.Query["type"];
        string? parent = http.Request.Query["parent"];
        var page = assets.List(string.IsNullOrEmpty(type) ? null : type, filters, string.IsNullOrEmpty(parent) ? null : parent, limit, offset);
        await WritePageAsync(http, "assets", page.Assets, page.Total, (json, asset) => WriteAsset(json, asset, null));
    }

    private static async Task GetAsync(HttpContext http, ApiContext context)
    {
        if (await RegistryAsync(http, context, ApiScope.Read) is not { } assets)
        {
            return;
        }

        string id = IdOf(http);
        if (assets.Get(id) is not { } asset)
        {
            await WriteErrorAsync(http, AssetRegistryNotFound(id));
            return;
        }

        var children = assets.Children(id);
        await WriteAsync(http, StatusCodes.Status200OK, json => WriteAsset(json, asset, children));
    }

    private static async Task UpdateAsync(HttpContext http, ApiContext context)
    {
        if (await RegistryAsync(http, context) is not { } assets)
        {
            return;
        }

        using var document = await ReadJsonAsync(http, JsonValueKind.Object);
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
                if (property.Name is not ("name" or "type" or "tags" or "parent"))
                {
                    throw RegistryException.Invalid(property.Name,
                        property.Name == "id" ? "id cannot be changed; add a new asset and move the children" : $"unknown field \"{property.Name}\"; send name, type, tags or parent");
                }
            }

            var changes = new AssetChanges
            {
                NameSet = root.TryGetProperty("name", out _),
                Name = OptionalString(root, "name"),
                TypeSet = root.TryGetProperty("type", out _),
                Type = OptionalString(root, "type"),
                TagsSet = root.TryGetProperty("tags", out _),
                Tags = OptionalTags(root),
                ParentSet = root.TryGetProperty("parent", out _),
                Parent = OptionalString(root, "parent"),
            };
            var updated = assets.Update(IdOf(http), changes);
            await WriteAsync(http, StatusCodes.Status200OK, json => WriteAsset(json, updated, null));
        }
        catch (RegistryException error)
        {
            await WriteErrorAsync(http, error);
        }
    }

    private static async Task RemoveAsync(HttpContext http, ApiContext context)
    {
        if (await RegistryAsync(http, context) is not { } assets)
        {
            return;
        }

        string? cascadeText = http.Request.Query["cascade"];
        AssetCascade cascade;
        switch (cascadeText)
        {
            case null or "" or "none":
                cascade = AssetCascade.None;
                break;
            case "detach":
                cascade = AssetCascade.Detach;
                break;
            case "delete":
                cascade = AssetCascade.Delete;
                break;
            default:
                await WriteErrorAsync(http, RegistryException.Invalid("cascade", $"cascade \"{cascadeText}\" is not detach or delete"));
                return;
        }

        string id = IdOf(http);
        if (cascade != AssetCascade.None)
        {
            AuditTrail.Detail(http, "cascade " + cascadeText);
        }

        try
        {
            if (!assets.Remove(id, cascade))
            {
                await WriteErrorAsync(http, AssetRegistryNotFound(id));
                return;
            }
        }
        catch (RegistryException error)
        {
            await WriteErrorAsync(http, error);
            return;
        }

        http.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    private static RegistryException AssetRegistryNotFound(string id) => new(RegistryErrorKind.NotFound, "id", $"no asset \"{id}\" exists");

    private static Task<AssetRegistry?> RegistryAsync(HttpContext http, ApiContext context, ApiScope scope = ApiScope.Admin) =>
        PlexusApi.AdmitServiceAsync(http, context, scope, context.Assets, "assets are");

    private static string IdOf(HttpContext http) => http.Request.RouteValues["id"] as string ?? string.Empty;

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

    private static Dictionary<string, string>? OptionalTags(JsonElement root) => JsonBodies.OptionalTags(root, """{"region": "EU"}""");

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
