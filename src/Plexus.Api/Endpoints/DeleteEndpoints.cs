using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Plexus.Api.Auth;
using Plexus.Storage.Deleting;
using Plexus.Storage.Schema;

namespace Plexus.Api.Endpoints;

/// <summary>
/// Deleting data on purpose (docs/http-api.md#deleting-data), scope admin:
/// <c>DELETE /api/v1/measurements/{namespace.measurement}?from=&amp;to=&amp;where=</c> deletes rows, or without a
/// filter drops the measurement; <c>DELETE /api/v1/namespaces/{namespace}</c> drops a namespace (with
/// <c>?from=&amp;to=</c>, deletes those rows from each of its measurements).
/// </summary>
internal static class DeleteEndpoints
{
    public static void Map(IEndpointRouteBuilder endpoints, ApiContext context)
    {
        endpoints.MapDelete("/api/v1/measurements/{name}", AuditTrail.Audited(context, "measurement.delete", "measurement", "name", http => DeleteMeasurementAsync(http, context)));
        endpoints.MapDelete("/api/v1/namespaces/{name}", AuditTrail.Audited(context, "namespace.delete", "namespace", "name", http => DeleteNamespaceAsync(http, context)));
    }

    private static async Task DeleteMeasurementAsync(HttpContext http, ApiContext context)
    {
        string name = http.Request.RouteValues["name"] as string ?? "";
        int dot = name.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0 || dot == name.Length - 1)
        {
            if (await PlexusApi.AdmitAsync(http, context, ApiScope.Admin, namespaced: true) is not null)
            {
                await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid",
                    $"\"{name}\" is not namespace.measurement: name the namespace too, e.g. main.readings (a measurement's own dots stay: main.cpu.load is measurement cpu.load)",
                    extra: json => json.WriteString("field", "name"));
            }

            return;
        }

        await DeleteAsync(http, context, name[..dot], name[(dot + 1)..]);
    }

    private static Task DeleteNamespaceAsync(HttpContext http, ApiContext context) =>
        DeleteAsync(http, context, http.Request.RouteValues["name"] as string ?? "", measurement: null);

    private static async Task DeleteAsync(HttpContext http, ApiContext context, string nsText, string? measurement)
    {
        if (await PlexusApi.AdmitAsync(http, context, ApiScope.Admin, namespaced: true) is not { } principal)
        {
            return;
        }

        if (!Namespaces.TryNormalize(nsText, out string ns, out string? nsError) || nsText.Contains('/', StringComparison.Ordinal))
        {
            await Invalid(http, "name", nsError ?? $"namespace \"{nsText}\" may contain only letters, digits, '_' and '-'");
            return;
        }

        if (!principal.MayUse(ns))
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status403Forbidden, "forbidden", $"{principal} may not change namespace {ns}; use a token that includes it");
            return;
        }

        long? from = null;
        long? to = null;
        foreach (string bound in (string[])["from", "to"])
        {
            string? text = http.Request.Query[bound];
            if (string.IsNullOrEmpty(text))
            {
                continue;
            }

            if (!DeleteTimes.TryParse(text, out long parsed))
            {
                await Invalid(http, bound, $"{bound}: \"{Shorten(text)}\" is not a time; use {DeleteTimes.Example}");
                return;
            }

            if (bound == "from")
            {
                from = parsed;
            }
            else
            {
                to = parsed;
            }
        }

        TagPredicate? where = null;
        string? whereText = http.Request.Query["where"];
        if (!string.IsNullOrEmpty(whereText))
        {
            if (measurement is null)
            {
                await Invalid(http, "where", "where needs a measurement (tags belong to one): DELETE /api/v1/measurements/{namespace.measurement}?where=...");
                return;
            }

            if (!TagPredicate.TryParse(whereText, out where, out string? problem))
            {
                await Invalid(http, "where", $"where: {problem}; write tag = 'value', tag IN ('a', 'b'), with AND, OR and parentheses");
                return;
            }
        }

        var selection = new DeleteSelection(ns, measurement, from, to, where);
        if (selection.Validate() is { } invalid)
        {
            await Invalid(http, selection.Drops ? "name" : "to", invalid);
            return;
        }

        AuditTrail.Detail(http, selection.Describe());
        DeleteResult result;
        try
        {
            result = await context.StoreWriter!.DeleteAsync(selection, http.RequestAborted);
        }
        catch (DeleteTargetNotFoundException error)
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status404NotFound, "not_found", error.Message);
            return;
        }
        catch (DeletePredicateException error)
        {
            await Invalid(http, "where", error.Message);
            return;
        }

        AuditTrail.Detail(http, $"{selection.Describe()}: {result.RowsDeleted} rows");
        context.Logger.LogInformation("{Principal} deleted {Rows} rows ({What})", principal.AuditName, result.RowsDeleted, selection.Describe());
        await JsonBodies.WriteAsync(http, StatusCodes.Status200OK, json =>
        {
            json.WriteString("namespace", ns);
            if (measurement is not null)
            {
                json.WriteString("measurement", measurement);
            }

            json.WriteNumber("rows_deleted", result.RowsDeleted);
            json.WriteStartArray("measurements_dropped");
            foreach (string dropped in result.MeasurementsDropped)
            {
                json.WriteStringValue(dropped);
            }

            json.WriteEndArray();
            json.WriteBoolean("namespace_dropped", result.NamespaceDropped);
        });
    }

    /// <summary>
    /// A delete of InfluxQL's <c>/query</c> (DROP MEASUREMENT, DROP DATABASE, DELETE): the same namespace check, log line
    /// and audit entry as the HTTP endpoints, one entry per statement since the request itself is not an audited one.
    /// </summary>
    /// <exception cref="UnauthorizedAccessException">The token may not use the namespace.</exception>
    internal static async Task<DeleteResult> DeleteAsync(ApiContext context, ApiPrincipal principal, string? address, DeleteSelection selection, CancellationToken cancellationToken)
    {
        if (!principal.MayUse(selection.Namespace))
        {
            throw new UnauthorizedAccessException($"{principal} may not change namespace {selection.Namespace}; use a token that includes it");
        }

        string action = selection.Measurement is null ? "namespace.delete" : "measurement.delete";
        string target = selection.Measurement is null ? selection.Namespace : selection.Namespace + "." + selection.Measurement;
        try
        {
            var result = await context.StoreWriter!.DeleteAsync(selection, cancellationToken);
            context.Logger.LogInformation("{Principal} deleted {Rows} rows ({What}) with InfluxQL", principal.AuditName, result.RowsDeleted, selection.Describe());
            Record(context, principal, address, action, target, $"{selection.Describe()}: {result.RowsDeleted} rows (InfluxQL)", "ok");
            return result;
        }
        catch (Exception error) when (error is DeleteTargetNotFoundException or DeletePredicateException)
        {
            Record(context, principal, address, action, target, $"{selection.Describe()}; {error.Message} (InfluxQL)", error is DeleteTargetNotFoundException ? "not_found" : "invalid");
            throw;
        }
    }

    private static void Record(ApiContext context, ApiPrincipal principal, string? address, string action, string target, string detail, string outcome)
    {
        try
        {
            context.Audit?.Record(new Storage.AuditEntry(context.Time.GetUtcNow(), principal.AuditName, action, action[..action.IndexOf('.', StringComparison.Ordinal)], target, detail, address, outcome, null));
        }
        catch (Exception error)
        {
            // The delete itself is done; failing the statement would only make the client run it again.
            context.Logger.LogError(error, "The audit entry of {Action} {Target} by {Principal} could not be stored", action, target, principal.AuditName);
        }
    }

    private static Task Invalid(HttpContext http, string field, string message) =>
        ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", message, extra: json => json.WriteString("field", field));

    private static string Shorten(string text) => text.Length > 40 ? text[..40] + "…" : text;
}
