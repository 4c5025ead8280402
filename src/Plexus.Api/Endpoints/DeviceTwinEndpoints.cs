using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Plexus.Api.Auth;
using Plexus.Core;
using Plexus.Devices;
using Plexus.Devices.Twin;
using static Plexus.Api.Endpoints.JsonBodies;

namespace Plexus.Api.Endpoints;

/// <summary>
/// Desired properties and commands over HTTP (docs/devices.md#desired-properties-and-commands). Changing them needs
/// scope admin, like every other change to a device: the write scope is what ingest clients (Telegraf, gateways) hold,
/// and a leaked ingest token must not reconfigure or command the fleet. Reading needs scope read.
/// </summary>
internal static class DeviceTwinEndpoints
{
    private const string DesiredExample = """{"interval": 30, "config": {"mode": "eco"}, "old_key": null}""";
    private const string CommandExample = """{"name": "reboot", "payload": {"delay": 5}, "timeout": "30s"}""";

    // A long poll ends at the command's own deadline; this much later at most, so its timer's answer is the one seen.
    private static readonly TimeSpan WaitGrace = TimeSpan.FromSeconds(5);

    private static readonly RegistryRoute<DeviceRegistry> Route = new(context => context.Devices, "the device registry is", "id", DeviceRegistry.NotFound);

    public static void Map(IEndpointRouteBuilder endpoints, ApiContext context)
    {
        endpoints.MapGet("/api/v1/devices/{id}/desired", RegistryEndpoints.Run(Route, context, ApiScope.Read, (http, registry) => ShowDesiredAsync(http, context, registry)));
        endpoints.MapMethods("/api/v1/devices/{id}/desired", ["PATCH"], AuditTrail.Audited(context, "device.desire", "device", "id", RegistryEndpoints.Change(Route, context, http => ReadJsonAsync(http, DesiredExample), (http, registry, body) => PatchDesiredAsync(http, context, registry, body))));
        endpoints.MapPost("/api/v1/devices/{id}/commands", AuditTrail.Audited(context, "device.command", "device", "id", RegistryEndpoints.Change(Route, context, http => ReadJsonAsync(http, CommandExample), (http, registry, body) => SendCommandAsync(http, context, registry, body))));
        endpoints.MapGet("/api/v1/devices/{id}/commands/{commandId}", RegistryEndpoints.Run(Route, context, ApiScope.Read, (http, registry) => ShowCommandAsync(http, context, registry)));
    }

    /// <summary>The <c>desired</c> and <c>delta</c> members of a device's answer (also in <c>GET /api/v1/devices/{id}</c>).</summary>
    public static void WriteDesired(Utf8JsonWriter json, ApiContext context, string device)
    {
        var state = context.Desired?.Get(device);
        json.WritePropertyName("desired");
        if (state is null)
        {
            json.WriteNullValue();
        }
        else
        {
            json.WriteStartObject();
            json.WriteNumber("version", state.Version);
            json.WriteString("updated_at", state.UpdatedAt);
            json.WritePropertyName("properties");
            json.WriteRawValue(state.Properties, skipInputValidation: true);
            json.WriteEndObject();
        }

        // Desired keys whose reported value differs or is missing, flattened as reported properties are named.
        json.WritePropertyName("delta");
        json.WriteStartObject();
        if (state is not null)
        {
            var live = context.DeviceState;
            foreach (var difference in DesiredProperties.Delta(state, key => live is not null && live.TryGetReported(device, key, out _, out string value, out _) ? value : null))
            {
                json.WriteString(difference.Key, difference.Desired);
            }
        }

        json.WriteEndObject();
    }

    private static Task ShowDesiredAsync(HttpContext http, ApiContext context, DeviceRegistry registry)
    {
        string id = Route.KeyOf(http);
        _ = registry.Get(id) ?? throw DeviceRegistry.NotFound(id);
        return WriteAsync(http, StatusCodes.Status200OK, json =>
        {
            json.WriteString("device", id);
            WriteDesired(json, context, id);
        });
    }

    private static async Task PatchDesiredAsync(HttpContext http, ApiContext context, DeviceRegistry registry, JsonDocument body)
    {
        string id = Route.KeyOf(http);
        _ = registry.Get(id) ?? throw DeviceRegistry.NotFound(id);
        if (context.Desired is not { } desired)
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status503ServiceUnavailable, "unavailable", "desired properties are not available on this server");
            return;
        }

        var state = await desired.PatchAsync(id, body.RootElement, http.RequestAborted);
        AuditTrail.Detail(http, $"version {state.Version}");
        await WriteAsync(http, StatusCodes.Status200OK, json =>
        {
            json.WriteString("device", id);
            WriteDesired(json, context, id);
        });
    }

    private static async Task SendCommandAsync(HttpContext http, ApiContext context, DeviceRegistry registry, JsonDocument body)
    {
        string id = Route.KeyOf(http);
        _ = registry.Get(id) ?? throw DeviceRegistry.NotFound(id);
        if (context.Commands is not { } commands || await ReadWaitAsync(http) is not { } wait)
        {
            if (context.Commands is null)
            {
                await ApiErrors.WriteAsync(http, StatusCodes.Status503ServiceUnavailable, "unavailable", "commands are not available on this server");
            }

            return;
        }

        var root = body.RootElement;
        foreach (var property in root.EnumerateObject())
        {
            if (property.Name is not ("name" or "payload" or "timeout"))
            {
                throw RegistryException.Invalid(property.Name, $"unknown field \"{property.Name}\"; send name, payload and timeout, like {CommandExample}");
            }
        }

        string? name = root.TryGetProperty("name", out var nameElement) && nameElement.ValueKind == JsonValueKind.String ? nameElement.GetString() : null;
        DeviceCommands.CheckName(name);
        string? payload = root.TryGetProperty("payload", out var payloadElement) ? payloadElement.GetRawText() : null;
        TimeSpan? timeout = root.TryGetProperty("timeout", out var timeoutElement) ? ParseTimeout(timeoutElement) : null;
        var command = await commands.SendAsync(id, name!, payload, timeout);
        AuditTrail.Detail(http, $"command {command.Name} {command.Id}");
        if (wait)
        {
            command = await WaitAsync(context, commands, command, http.RequestAborted) ?? command;
        }

        await WriteAsync(http, StatusCodes.Status201Created, json => WriteCommand(json, command));
    }

    private static async Task ShowCommandAsync(HttpContext http, ApiContext context, DeviceRegistry registry)
    {
        string id = Route.KeyOf(http);
        string commandId = http.Request.RouteValues["commandId"] as string ?? string.Empty;
        _ = registry.Get(id) ?? throw DeviceRegistry.NotFound(id);
        if (context.Commands is not { } commands || await ReadWaitAsync(http) is not { } wait)
        {
            if (context.Commands is null)
            {
                await ApiErrors.WriteAsync(http, StatusCodes.Status503ServiceUnavailable, "unavailable", "commands are not available on this server");
            }

            return;
        }

        var command = commands.Get(id, commandId) ?? throw RegistryException.NotFound("commandId", $"device \"{id}\" has no command \"{commandId}\"");
        if (wait && !command.IsDone)
        {
            command = await WaitAsync(context, commands, command, http.RequestAborted) ?? command;
        }

        await WriteAsync(http, StatusCodes.Status200OK, json => WriteCommand(json, command));
    }

    /// <summary>Until the command is done, its deadline (and a little) passes, or the client goes away.</summary>
    private static async Task<DeviceCommand?> WaitAsync(ApiContext context, DeviceCommands commands, DeviceCommand command, CancellationToken aborted)
    {
        var left = command.ExpiresAt - context.Time.GetUtcNow() + WaitGrace;
        using var deadline = new CancellationTokenSource(left > TimeSpan.Zero ? left : TimeSpan.Zero, context.Time);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, aborted);
        return await commands.WaitAsync(command.Device, command.Id, either.Token);
    }

    private static async Task<bool?> ReadWaitAsync(HttpContext http)
    {
        string? wait = http.Request.Query["wait"];
        if (string.IsNullOrEmpty(wait) || wait is "true" or "false")
        {
            return wait == "true";
        }

        await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", $"wait must be true or false, not \"{Shorten(wait)}\"", extra: json => json.WriteString("field", "wait"));
        return null;
    }

    /// <summary>Seconds as a number (<c>30</c>), or a string with a unit: <c>30s</c>, <c>5m</c>, <c>1h</c>.</summary>
    private static TimeSpan ParseTimeout(JsonElement value)
    {
        const string Expected = "the timeout is seconds (30) or a duration like \"30s\", \"5m\" or \"1h\"";
        if (value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out double seconds) && double.IsFinite(seconds) && seconds is >= 0 and <= 1e9)
        {
            return TimeSpan.FromSeconds(seconds);
        }

        if (value.ValueKind == JsonValueKind.String && value.GetString() is { Length: >= 2 and <= 16 } text
            && double.TryParse(text[..^1], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double count)
            && char.ToLowerInvariant(text[^1]) switch { 's' => 1, 'm' => 60, 'h' => 3600, _ => 0 } is var unit and > 0
            && count * unit <= 1e9)
        {
            return TimeSpan.FromSeconds(count * unit);
        }

        throw RegistryException.Invalid("timeout", $"{Expected}, not {Shorten(value.GetRawText())}");
    }

    private static void WriteCommand(Utf8JsonWriter json, DeviceCommand command)
    {
        json.WriteString("id", command.Id);
        json.WriteString("device", command.Device);
        json.WriteString("name", command.Name);
        json.WritePropertyName("payload");
        json.WriteRawValue(command.Payload, skipInputValidation: true);
        json.WriteString("status", DeviceCommand.StatusName(command.Status));
        json.WriteString("sent_at", command.SentAt);
        json.WriteNumber("timeout_seconds", command.Timeout.TotalSeconds);
        json.WriteString("expires_at", command.ExpiresAt);
        WriteTimeOrNull(json, "delivered_at", command.DeliveredAt);
        WriteTimeOrNull(json, "completed_at", command.CompletedAt);
        json.WriteString("response_topic", command.ResponseTopic);
        json.WritePropertyName("response");
        if (command.Response is null)
        {
            json.WriteNullValue();
        }
        else if (IsJson(command.Response))
        {
            json.WriteRawValue(command.Response, skipInputValidation: true);
        }
        else
        {
            json.WriteStringValue(command.Response);
        }

        if (command.Error is null)
        {
            json.WriteNull("error");
        }
        else
        {
            json.WriteString("error", command.Error);
        }
    }

    private static void WriteTimeOrNull(Utf8JsonWriter json, string name, DateTimeOffset? time)
    {
        if (time is { } value)
        {
            json.WriteString(name, value);
        }
        else
        {
            json.WriteNull(name);
        }
    }

    private static bool IsJson(string text)
    {
        try
        {
            using var _ = JsonDocument.Parse(text);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..37] + "...";
}
