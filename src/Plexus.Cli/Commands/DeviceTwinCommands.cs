using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Plexus.Cli.Client;
using static Plexus.Cli.Commands.CommandSupport;

namespace Plexus.Cli.Commands;

/// <summary>`plexus devices desire|command`: desired properties and commands (docs/devices.md#desired-properties-and-commands).</summary>
internal static class DeviceTwinCommands
{
    public static Command Desire()
    {
        var id = new Argument<string>("id") { Description = "The device id" };
        var pairs = new Argument<string[]>("key=value") { Description = "Desired properties: a value that is JSON (30, true, null, \"text\", [1,2]) is taken as JSON, anything else as a string; a dotted key (config.mode=eco) sets a nested one; null removes the key", Arity = ArgumentArity.ZeroOrMore };
        var json = new Option<string?>("--json") { Description = "The whole JSON merge patch instead of key=value pairs, e.g. '{\"interval\": 30, \"old\": null}'" };
        var command = new Command("desire", "Set, change or remove desired properties of a device (a JSON merge patch); prints its desired state and delta") { id, pairs, json };
        return WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            string body = PatchOf(parse.GetValue(pairs) ?? [], parse.GetValue(json));
            using var document = await SendAsync(client, HttpMethod.Patch, "api/v1/devices/" + Uri.EscapeDataString(parse.GetValue(id)!) + "/desired", body, cancellationToken);
            await output.WriteLineAsync(Pretty(document!.RootElement));
        });
    }

    public static Command SendCommand()
    {
        var id = new Argument<string>("id") { Description = "The device id" };
        var name = new Argument<string>("name") { Description = "The command name, one MQTT topic level: letters, digits, '_', '-', '.'" };
        var payload = new Option<string?>("--payload") { Description = "The payload as JSON, e.g. '{\"delay\": 5}' (default null)" };
        var timeout = new Option<string?>("--timeout") { Description = "How long to wait for the device's answer: 30s, 5m, 1h (default 30s; at most the server's --max-command-timeout)" };
        var wait = new Option<bool>("--wait") { Description = "Wait for the outcome; exit code 1 unless the command succeeded" };
        var command = new Command("command", "Send a command to a device over MQTT and print it with its status") { id, name, payload, timeout, wait };
        return WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            var body = new JsonObject { ["name"] = parse.GetValue(name) };
            if (parse.GetValue(payload) is { } given)
            {
                body["payload"] = ParseJson(given, "--payload");
            }

            if (parse.GetValue(timeout) is { } duration)
            {
                body["timeout"] = duration;
            }

            bool waiting = parse.GetValue(wait);
            string path = "api/v1/devices/" + Uri.EscapeDataString(parse.GetValue(id)!) + "/commands" + (waiting ? "?wait=true" : "");
            using var document = await SendAsync(client, HttpMethod.Post, path, body.ToJsonString(), cancellationToken);
            var root = document!.RootElement;
            await output.WriteLineAsync(Pretty(root));
            string? status = root.GetProperty("status").GetString();
            if (waiting && status != "succeeded")
            {
                string? reason = root.TryGetProperty("error", out var why) && why.ValueKind == JsonValueKind.String ? why.GetString() : null;
                throw new CliException($"command {root.GetProperty("id").GetString()} {status}" + (reason is null ? "" : ": " + reason));
            }
        });
    }

    /// <summary>The merge patch of <c>key=value</c> pairs or of <c>--json</c> (not both).</summary>
    internal static string PatchOf(string[] pairs, string? json)
    {
        if (json is not null)
        {
            if (pairs.Length > 0)
            {
                throw new CliException("give key=value pairs or --json, not both");
            }

            return ParseJson(json, "--json") is JsonObject patch ? patch.ToJsonString() : throw new CliException("--json must be a JSON object like '{\"interval\": 30}'");
        }

        if (pairs.Length == 0)
        {
            throw new CliException("give at least one key=value (value null removes the key), or --json '{...}'");
        }

        var root = new JsonObject();
        foreach (string pair in pairs)
        {
            int equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new CliException($"\"{pair}\" is not key=value");
            }

            string[] path = pair[..equals].Split('.');
            string text = pair[(equals + 1)..];
            var target = root;
            foreach (string level in path[..^1])
            {
                if (target[level] is not JsonObject child)
                {
                    child = new JsonObject();
                    target[level] = child;
                }

                target = child;
            }

            target[path[^1]] = ValueOf(text);
        }

        return root.ToJsonString();
    }

    private static JsonNode? ValueOf(string text)
    {
        try
        {
            return JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            return JsonValue.Create(text);
        }
    }

    private static JsonNode? ParseJson(string text, string option)
    {
        try
        {
            return JsonNode.Parse(text);
        }
        catch (JsonException e)
        {
            throw new CliException($"{option} is not JSON: {e.Message}", e);
        }
    }
}
