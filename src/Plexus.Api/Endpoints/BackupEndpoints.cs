using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Plexus.Api.Auth;
using Plexus.Storage.Backup;

namespace Plexus.Api.Endpoints;

/// <summary>
/// <c>POST /api/v1/backup</c> (docs/http-api.md#backup): an online backup of the whole data folder, streamed to the client as
/// a tar whose first entry is the manifest. Admin scope with every namespace, since the backup holds them all, and one at a
/// time. The server writes nothing outside its data folder: the snapshot is staged inside it and deleted once sent.
/// </summary>
internal static class BackupEndpoints
{
    public const string BytesHeader = "X-Plexus-Backup-Bytes";
    public const string FilesHeader = "X-Plexus-Backup-Files";
    public const string WritesHeldHeader = "X-Plexus-Backup-Writes-Held-Ms";

    public static void Map(IEndpointRouteBuilder endpoints, ApiContext context)
    {
        endpoints.MapPost("/api/v1/backup", AuditTrail.Audited(context, "backup", "data_folder", null, http => BackupAsync(http, context)));
    }

    private static async Task BackupAsync(HttpContext http, ApiContext context)
    {
        if (await PlexusApi.AdmitAsync(http, context, ApiScope.Admin) is not { } principal)
        {
            return;
        }

        if (principal.Namespaces is not null)
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status403Forbidden, "forbidden",
                $"a backup holds every namespace, and {principal} is limited to {string.Join(", ", principal.Namespaces)}; use the admin token or an admin token without namespaces");
            return;
        }

        BackupSnapshot snapshot;
        try
        {
            snapshot = await context.StoreWriter!.SnapshotAsync(context.Services!.BackupMetadataFiles, http.RequestAborted);
        }
        catch (BackupInProgressException error)
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status409Conflict, "conflict", error.Message);
            return;
        }
        catch (BackupSpaceException error)
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status507InsufficientStorage, "insufficient_storage", error.Message);
            return;
        }

        try
        {
            var manifest = snapshot.Manifest;
            AuditTrail.Detail(http, $"{manifest.Files.Count} files, {manifest.TotalBytes} bytes; writes waited {(long)snapshot.WritesHeld.TotalMilliseconds} ms");
            http.Response.StatusCode = StatusCodes.Status200OK;
            http.Response.ContentType = BackupArchive.ContentType;
            http.Response.Headers[BytesHeader] = manifest.TotalBytes.ToString(CultureInfo.InvariantCulture);
            http.Response.Headers[FilesHeader] = manifest.Files.Count.ToString(CultureInfo.InvariantCulture);
            http.Response.Headers[WritesHeldHeader] = ((long)snapshot.WritesHeld.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
            http.Response.Headers.ContentDisposition = $"attachment; filename=\"plexus-backup-{manifest.Created:yyyyMMdd'T'HHmmss'Z'}.tar\"";
            await BackupArchive.WriteAsync(snapshot, http.Response.Body, progress: null, http.RequestAborted);
            context.Logger.LogInformation("{Principal} took a backup: {Files} files, {Bytes} bytes; writes waited {Held} ms", principal.AuditName, manifest.Files.Count, manifest.TotalBytes, (long)snapshot.WritesHeld.TotalMilliseconds);
        }
        catch (Exception error) when (error is OperationCanceledException or IOException && http.RequestAborted.IsCancellationRequested)
        {
            context.Logger.LogInformation("A backup was abandoned by {Principal}: the client went away", principal.AuditName);
        }
        finally
        {
            snapshot.Dispose();
        }
    }
}
