using System.Text;
using Microsoft.AspNetCore.Http;
using Plexus.Devices;

namespace Plexus.Api.Auth;

/// <summary>
/// Finds the token in the places InfluxDB clients put it: `Authorization: Token t` (v2 clients, Telegraf),
/// `Authorization: Bearer t`, HTTP Basic with the token as password, and v1 query parameters `u`/`p` — and says
/// whose it is: the admin token, a scoped API token, or a device token.
/// </summary>
public sealed class RequestAuthenticator(AdminTokenStore adminTokens, ApiTokenStore? apiTokens = null, DeviceRegistry? devices = null)
{
    public ApiPrincipal Authenticate(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        string? token = FindToken(request);
        if (string.IsNullOrEmpty(token))
        {
            return ApiPrincipal.Anonymous;
        }

        if (adminTokens.IsAdminToken(token))
        {
            return ApiPrincipal.Admin;
        }

        if (apiTokens?.Find(token) is { } info)
        {
            return ApiPrincipal.Token(info.Name, info.Scope, info.Namespaces);
        }

        if (devices?.FindByToken(token) is { } deviceId)
        {
            return ApiPrincipal.Device(deviceId);
        }

        return ApiPrincipal.Anonymous;
    }

    public static string? FindToken(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        string? header = request.Headers.Authorization;
        if (!string.IsNullOrEmpty(header))
        {
            int space = header.IndexOf(' ', StringComparison.Ordinal);
            if (space > 0)
            {
                var scheme = header.AsSpan(0, space);
                string credential = header[(space + 1)..].Trim();
                if (scheme.Equals("Token", StringComparison.OrdinalIgnoreCase) || scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase))
                {
                    return credential;
                }

                if (scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase))
                {
                    return PasswordOfBasic(credential);
                }
            }
        }

        string? password = request.Query["p"];
        return string.IsNullOrEmpty(password) ? null : password;
    }

    private static string? PasswordOfBasic(string credential)
    {
        try
        {
            string decoded = Encoding.UTF8.GetString(Convert.FromBase64String(credential));
            int colon = decoded.IndexOf(':', StringComparison.Ordinal);
            return colon >= 0 ? decoded[(colon + 1)..] : decoded;
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
