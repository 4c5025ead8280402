using System.CommandLine;

namespace Plexus.Cli.Commands;

/// <summary>The options every client command shares: where the server is and which token to present.</summary>
internal static class ClientOptions
{
    public const string DefaultUrl = "http://127.0.0.1:8086";

    public static Option<string?> Url() => new("--url")
    {
        Description = $"Server address (env PLEXUS_URL, default {DefaultUrl})",
    };

    public static Option<string?> Token() => new("--token")
    {
        Description = "API token (env PLEXUS_TOKEN)",
    };

    public static Option<string?> CaCertificate() => new("--ca-cert")
    {
        Description = "PEM file of the certificate (or its CA) that an https:// server must present, for a self-signed one (env PLEXUS_CA_CERT; default: the system's trusted CAs)",
    };

    public static string ResolveUrl(string? value) =>
        (value ?? Environment.GetEnvironmentVariable("PLEXUS_URL") ?? DefaultUrl).TrimEnd('/');

    public static string? ResolveToken(string? value) =>
        value ?? Environment.GetEnvironmentVariable("PLEXUS_TOKEN");

    public static string? ResolveCaCertificate(string? value) =>
        value ?? (Environment.GetEnvironmentVariable("PLEXUS_CA_CERT") is { Length: > 0 } path ? path : null);
}
