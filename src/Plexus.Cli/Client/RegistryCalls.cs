using System.Net;
using System.Text;
using System.Text.Json;

namespace Plexus.Cli.Client;

/// <summary>
/// The registry calls of the commands that put simulated devices on a server (<c>plexus demo</c>, <c>plexus simulate
/// --mqtt</c>): a device registered, or its token rotated when an earlier run registered it, and failures turned into
/// one <see cref="CliException"/> that names what failed.
/// </summary>
internal static class RegistryCalls
{
    /// <summary>Registers a device from its JSON and returns its token; an id already registered gets a new token instead.</summary>
    public static async Task<string> RegisterDeviceAsync(PlexusApiClient client, string id, string deviceJson, string context, CancellationToken cancellationToken)
    {
        using var created = await SendAsync(client, HttpMethod.Post, "/api/v1/devices", deviceJson, cancellationToken);
        if (created.StatusCode != HttpStatusCode.Conflict)
        {
            return await TokenAsync(client, created, id, context, cancellationToken);
        }

        // Registered by an earlier run, whose token was never written down: a new one replaces it.
        using var rotated = await SendAsync(client, HttpMethod.Post, $"/api/v1/devices/{id}/rotate-token", null, cancellationToken);
        return await TokenAsync(client, rotated, id, context, cancellationToken);
    }

    public static async Task<HttpResponseMessage> SendAsync(PlexusApiClient client, HttpMethod method, string path, string? body, CancellationToken cancellationToken, string contentType = "application/json")
    {
        using var request = new HttpRequestMessage(method, path.TrimStart('/'));
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, contentType);
        }

        return await client.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
    }

    /// <summary>Throws, naming <paramref name="what"/> after <paramref name="context"/>, unless the status is one of <paramref name="fine"/>.</summary>
    public static async Task EnsureAsync(PlexusApiClient client, HttpResponseMessage response, string context, string what, HttpStatusCode[] fine, CancellationToken cancellationToken)
    {
        if (!fine.Contains(response.StatusCode))
        {
            var failure = await client.FailureAsync(response, cancellationToken);
            throw new CliException($"{context}: {what}: {failure.Message}", failure);
        }
    }

    private static async Task<string> TokenAsync(PlexusApiClient client, HttpResponseMessage response, string device, string context, CancellationToken cancellationToken)
    {
        await EnsureAsync(client, response, context, $"device {device}", [HttpStatusCode.Created, HttpStatusCode.OK], cancellationToken);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        return document.RootElement.GetProperty("token").GetString()!;
    }
}
