using System.Text;
using Microsoft.AspNetCore.Http;

namespace Plexus.Api.Auth;

/// <summary>Who sent a request. Device and scoped tokens come with the device registry; today a caller is the admin or nobody.</summary>
public enum Principal
{
    Anonymous,
    Admin,
}

/// <summary>
/// Finds the token in the places InfluxDB clients put it: `Authorization: Token t` (v2 clients, Telegraf),
/// `Authorization: Bearer t`, HTTP Basic with the token as password, and v1 query parameters `u`/`p`.
/// </summary>
public sealed class RequestAuthenticator(AdminTokenStore adminTokens)
{
    public Principal Authenticate(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        string? token = FindToken(request);
        if (token is not null && adminTokens.IsAdminToken(token))
        {
            return Principal.Admin;
        }

        return Principal.Anonymous;
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
