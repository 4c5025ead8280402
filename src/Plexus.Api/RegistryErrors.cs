using Microsoft.AspNetCore.Http;
using Plexus.Core;

namespace Plexus.Api;

/// <summary>
/// The one place a registry's refusal becomes an HTTP answer (devices, assets, geofences, position sources): the
/// kind decides the status and the error code, the message and the field at fault go into the API's error shape.
/// </summary>
public static class RegistryErrors
{
    public static (int Status, string Code) Of(RegistryErrorKind kind) => kind switch
    {
        RegistryErrorKind.Invalid => (StatusCodes.Status400BadRequest, "invalid"),
        RegistryErrorKind.NotFound => (StatusCodes.Status404NotFound, "not_found"),
        RegistryErrorKind.Conflict => (StatusCodes.Status409Conflict, "conflict"),
        RegistryErrorKind.TooLarge => (StatusCodes.Status413PayloadTooLarge, "too_large"),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "a registry error kind without an HTTP answer; add it here"),
    };

    public static Task WriteAsync(HttpContext http, RegistryException error)
    {
        ArgumentNullException.ThrowIfNull(error);
        var (status, code) = Of(error.Kind);
        return ApiErrors.WriteAsync(http, status, code, error.Message, extra: error.Field is null ? null : json => json.WriteString("field", error.Field));
    }
}
