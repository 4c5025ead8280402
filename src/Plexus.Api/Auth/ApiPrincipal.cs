namespace Plexus.Api.Auth;

/// <summary>What an API token may do; each scope includes the ones below it.</summary>
public enum ApiScope
{
    /// <summary>SQL queries and the GET endpoints.</summary>
    Read = 1,

    /// <summary>HTTP writes, and everything <see cref="Read"/> may.</summary>
    Write = 2,

    /// <summary>Everything, including device and token management.</summary>
    Admin = 3,
}

public enum ApiPrincipalKind
{
    Anonymous,

    /// <summary>The admin token or a scoped API token.</summary>
    Token,

    /// <summary>A device token: may only write its own points, attributed to it.</summary>
    Device,
}

/// <summary>Who sent a request: nobody, an API token with its scope, or a registered device.</summary>
public sealed class ApiPrincipal
{
    public const string AdminTokenName = "admin";

    private ApiPrincipal(ApiPrincipalKind kind, string? name, ApiScope scope, string? deviceId, IReadOnlyList<string>? namespaces = null)
    {
        Kind = kind;
        Name = name;
        Scope = scope;
        DeviceId = deviceId;
        Namespaces = namespaces;
    }

    public static ApiPrincipal Anonymous { get; } = new(ApiPrincipalKind.Anonymous, null, 0, null);

    /// <summary>The admin token given with --admin-token (or generated at first start).</summary>
    public static ApiPrincipal Admin { get; } = new(ApiPrincipalKind.Token, AdminTokenName, ApiScope.Admin, null);

    public ApiPrincipalKind Kind { get; }

    /// <summary>The token's name (<c>admin</c> for the admin token); null for a device or nobody.</summary>
    public string? Name { get; }

    /// <summary>The token's scope; 0 for a device or nobody.</summary>
    public ApiScope Scope { get; }

    public string? DeviceId { get; }

    /// <summary>
    /// The namespaces a limited API token may use (lower case); null for every namespace (the admin token, unlimited
    /// tokens, devices, whose data always goes to <c>main</c>).
    /// </summary>
    public IReadOnlyList<string>? Namespaces { get; }

    /// <summary>Who did it, as the audit log names it: the token's name (<c>admin</c> for the admin token) or <c>device:&lt;id&gt;</c>.</summary>
    public string AuditName => Kind switch
    {
        ApiPrincipalKind.Token => Name!,
        ApiPrincipalKind.Device => "device:" + DeviceId,
        _ => "anonymous",
    };

    public static ApiPrincipal Token(string name, ApiScope scope, IReadOnlyList<string>? namespaces = null) => new(ApiPrincipalKind.Token, name, scope, null, namespaces);

    public static ApiPrincipal Device(string deviceId) => new(ApiPrincipalKind.Device, null, 0, deviceId);

    public bool Has(ApiScope scope) => Kind == ApiPrincipalKind.Token && Scope >= scope;

    /// <summary>Whether this principal may use <paramref name="ns"/> (a normalized, lower-case namespace).</summary>
    public bool MayUse(string ns) => Namespaces is null || Namespaces.Contains(ns, StringComparer.Ordinal);

    public override string ToString() => Kind switch
    {
        ApiPrincipalKind.Token when Namespaces is not null => $"token \"{Name}\" (scope {ApiScopes.Name(Scope)}, namespaces {string.Join(", ", Namespaces)})",
        ApiPrincipalKind.Token => $"token \"{Name}\" (scope {ApiScopes.Name(Scope)})",
        ApiPrincipalKind.Device => $"device \"{DeviceId}\"",
        _ => "anonymous",
    };
}

public static class ApiScopes
{
    public static string Name(ApiScope scope) => scope switch
    {
        ApiScope.Read => "read",
        ApiScope.Write => "write",
        ApiScope.Admin => "admin",
        _ => "none",
    };

    public static bool TryParse(string? text, out ApiScope scope)
    {
        scope = text?.Trim().ToLowerInvariant() switch
        {
            "read" => ApiScope.Read,
            "write" => ApiScope.Write,
            "admin" => ApiScope.Admin,
            _ => 0,
        };
        return scope != 0;
    }
}
