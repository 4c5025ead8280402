using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Plexus.Api.Auth;
using Plexus.Core;

namespace Plexus.Api.Endpoints;

/// <summary>
/// What the shared registry handlers need to know of one registry: how a request reaches it (the service, and the
/// words of the 503 when this server runs without it), which route value names an entry, and the answer for a key no
/// entry has.
/// </summary>
internal sealed class RegistryRoute<TRegistry>(
    Func<ApiContext, TRegistry?> registry,
    string unavailable,
    string routeKey,
    Func<string, RegistryException> notFound,
    Func<string, string>? normalizeKey = null)
    where TRegistry : class
{
    public Task<TRegistry?> AdmitAsync(HttpContext http, ApiContext context, ApiScope scope) =>
        PlexusApi.AdmitServiceAsync(http, context, scope, registry(context), unavailable);

    public string KeyOf(HttpContext http)
    {
        string key = http.Request.RouteValues[routeKey] as string ?? string.Empty;
        return normalizeKey is null ? key : normalizeKey(key);
    }

    public RegistryException NotFound(string key) => notFound(key);
}

/// <summary>One item of a bulk request: what it created, or why it failed; <see cref="Line"/> for CSV input.</summary>
internal readonly record struct BulkResult<T>(int Index, int? Line, T? Created, RegistryException? Error)
    where T : class
{
    /// <summary>Runs <paramref name="create"/>; a refusal becomes this item's error and the next item goes on.</summary>
    public static BulkResult<T> Try(int index, int? line, Func<T> create)
    {
        try
        {
            return new BulkResult<T>(index, line, create(), null);
        }
        catch (RegistryException error)
        {
            return new BulkResult<T>(index, line, null, error);
        }
    }
}

/// <summary>
/// The request handling the registry endpoints share (devices, assets, geofences, position sources): admit, run the
/// operation, answer a <see cref="RegistryException"/> through <see cref="RegistryErrors"/>; show, remove and bulk results.
/// </summary>
internal static class RegistryEndpoints
{
    /// <summary>Admits the request with <paramref name="scope"/>, then runs <paramref name="run"/>; a refusal it throws is the answer.</summary>
    public static RequestDelegate Run<TRegistry>(RegistryRoute<TRegistry> route, ApiContext context, ApiScope scope, Func<HttpContext, TRegistry, Task> run)
        where TRegistry : class =>
        async http =>
        {
            if (await route.AdmitAsync(http, context, scope) is not { } registry)
            {
                return;
            }

            try
            {
                await run(http, registry);
            }
            catch (RegistryException error)
            {
                await RegistryErrors.WriteAsync(http, error);
            }
        };

    /// <summary>
    /// A change with a body (admin scope): <paramref name="read"/> answers a body it cannot use itself and returns null;
    /// a body that is <see cref="IDisposable"/> is disposed after <paramref name="change"/>.
    /// </summary>
    public static RequestDelegate Change<TRegistry, TBody>(RegistryRoute<TRegistry> route, ApiContext context, Func<HttpContext, Task<TBody?>> read, Func<HttpContext, TRegistry, TBody, Task> change)
        where TRegistry : class
        where TBody : class =>
        Run(route, context, ApiScope.Admin, async (http, registry) =>
        {
            if (await read(http) is not { } body)
            {
                return;
            }

            try
            {
                await change(http, registry, body);
            }
            finally
            {
                (body as IDisposable)?.Dispose();
            }
        });

    /// <summary>GET of one entry (read scope): 404 with the registry's own message when <paramref name="get"/> finds none.</summary>
    public static RequestDelegate Show<TRegistry, TEntry>(RegistryRoute<TRegistry> route, ApiContext context, Func<TRegistry, string, TEntry?> get, Func<HttpContext, TRegistry, TEntry, Task> answer)
        where TRegistry : class
        where TEntry : class =>
        Run(route, context, ApiScope.Read, (http, registry) =>
        {
            string key = route.KeyOf(http);
            var entry = get(registry, key) ?? throw route.NotFound(key);
            return answer(http, registry, entry);
        });

    /// <summary>DELETE of one entry (admin scope): 204, or 404 when <paramref name="remove"/> finds none.</summary>
    public static RequestDelegate Remove<TRegistry>(RegistryRoute<TRegistry> route, ApiContext context, Func<HttpContext, TRegistry, string, bool> remove)
        where TRegistry : class =>
        Run(route, context, ApiScope.Admin, (http, registry) =>
        {
            string key = route.KeyOf(http);
            if (!remove(http, registry, key))
            {
                throw route.NotFound(key);
            }

            http.Response.StatusCode = StatusCodes.Status204NoContent;
            return Task.CompletedTask;
        });

    /// <summary>
    /// Answers a bulk request: counts, then each item in input order with its index (and line), <c>status</c>
    /// <c>created</c> and what <paramref name="writeCreated"/> writes, or <c>error</c> with code, field and message.
    /// The audit entry names the ids created.
    /// </summary>
    public static Task WriteBulkAsync<T>(HttpContext http, IReadOnlyList<BulkResult<T>> results, Func<T, string> idOf, Action<Utf8JsonWriter, T> writeCreated)
        where T : class
    {
        int created = results.Count(r => r.Created is not null);
        AuditTrail.Detail(http, JsonBodies.BulkDetail(created, results.Count - created, results.Where(r => r.Created is not null).Select(r => idOf(r.Created!))));
        return JsonBodies.WriteAsync(http, StatusCodes.Status200OK, json =>
        {
            json.WriteNumber("created", created);
            json.WriteNumber("failed", results.Count - created);
            json.WriteStartArray("results");
            foreach (var result in results)
            {
                json.WriteStartObject();
                json.WriteNumber("index", result.Index);
                if (result.Line is { } line)
                {
                    json.WriteNumber("line", line);
                }

                if (result.Created is { } entry)
                {
                    json.WriteString("status", "created");
                    writeCreated(json, entry);
                }
                else
                {
                    json.WriteString("status", "error");
                    json.WriteString("code", RegistryErrors.Of(result.Error!.Kind).Code);
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

    /// <summary>Answers with JSON that <paramref name="body"/> writes whole, as <paramref name="contentType"/>.</summary>
    public static async Task WriteJsonAsync(HttpContext http, int status, string contentType, Action<Utf8JsonWriter> body)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = contentType;
        await using var json = new Utf8JsonWriter(http.Response.Body, PlexusApi.JsonOptions);
        body(json);
        await json.FlushAsync(http.RequestAborted);
    }
}
