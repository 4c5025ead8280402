using System.CommandLine;
using System.Text.Json;

namespace Plexus.Cli.Commands;

/// <summary>`plexus tokens create|list|revoke`: scoped API tokens (docs/http-api.md#api-tokens); needs an admin token.</summary>
internal static class TokensCommand
{
    public static Command Create()
    {
        var command = new Command("tokens", "Manage scoped API tokens (read, write, admin) for applications and integrations");
        command.Subcommands.Add(CreateToken());
        command.Subcommands.Add(List());
        command.Subcommands.Add(Revoke());
        return command;
    }

    private static Command CreateToken()
    {
        var name = NameArgument();
        var scope = new Option<string>("--scope")
        {
            Description = "read (SQL and GET), write (also HTTP writes, MQTT publish) or admin (everything)",
            Required = true,
        };
        scope.AcceptOnlyFromAmong("read", "write", "admin");
        var namespaces = new Option<string[]>("--namespace")
        {
            Description = "Limit the token to this namespace; repeat for several (default: every namespace; not for scope admin)",
            Arity = ArgumentArity.ZeroOrMore,
            AllowMultipleArgumentsPerToken = false,
        };
        var subscribe = TopicOption("--subscribe", "Limit MQTT subscriptions (and what is delivered) to this topic filter; repeat for several (default: any topic)");
        var publish = TopicOption("--publish", "Limit MQTT publishing to this topic filter; repeat for several (default: any topic; scope write)");
        var denySubscribe = TopicOption("--deny-subscribe", "Never subscribe to or receive topics matching this filter; wins over --subscribe; repeatable");
        var denyPublish = TopicOption("--deny-publish", "Never publish to topics matching this filter; wins over --publish; repeatable");
        var command = new Command("create", "Make a token and print it (shown once; the server keeps only its hash)") { name, scope, namespaces, subscribe, publish, denySubscribe, denyPublish };
        return CommandSupport.WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            string[] limited = parse.GetValue(namespaces) ?? [];
            string body = CommandSupport.Json(json =>
            {
                json.WriteString("name", parse.GetValue(name));
                json.WriteString("scope", parse.GetValue(scope));
                if (limited.Length > 0)
                {
                    json.WriteStartArray("namespaces");
                    foreach (string ns in limited)
                    {
                        json.WriteStringValue(ns);
                    }

                    json.WriteEndArray();
                }

                var lists = new[] { ("subscribe", parse.GetValue(subscribe)), ("publish", parse.GetValue(publish)), ("deny_subscribe", parse.GetValue(denySubscribe)), ("deny_publish", parse.GetValue(denyPublish)) };
                if (lists.Any(list => list.Item2 is { Length: > 0 }))
                {
                    json.WriteStartObject("mqtt");
                    foreach (var (field, filters) in lists)
                    {
                        json.WriteStartArray(field);
                        foreach (string filter in filters ?? [])
                        {
                            json.WriteStringValue(filter);
                        }

                        json.WriteEndArray();
                    }

                    json.WriteEndObject();
                }
            });
            using var document = await CommandSupport.SendAsync(client, HttpMethod.Post, "api/v1/tokens", body, cancellationToken, ownBadRequest: true);
            var root = document!.RootElement;
            await output.WriteLineAsync(root.GetProperty("token").GetString());
            await error.WriteLineAsync($"note: token \"{parse.GetValue(name)}\" ({Rights(root)}) is shown only now; the server keeps only its hash.");
        });
    }

    private static Command List()
    {
        var format = CommandSupport.FormatOption();
        var command = new Command("list", "List the tokens: name, scope, creation time (never the secrets)") { format };
        return CommandSupport.WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            using var document = await CommandSupport.SendAsync(client, HttpMethod.Get, "api/v1/tokens", null, cancellationToken);
            var root = document!.RootElement;
            if (parse.GetValue(format) == "json")
            {
                await output.WriteLineAsync(CommandSupport.Pretty(root));
                return;
            }

            var rows = root.GetProperty("tokens").EnumerateArray()
                .Select(t => new[] { t.GetProperty("name").GetString() ?? "", t.GetProperty("scope").GetString() ?? "", Namespaces(t) ?? "all", Topics(t) ?? "all", CreatedAt(t) })
                .ToList();
            await CommandSupport.WriteTableAsync(output, ["NAME", "SCOPE", "NAMESPACES", "MQTT", "CREATED"], rows);
            await error.WriteLineAsync($"{rows.Count} token{(rows.Count == 1 ? "" : "s")} (the admin token is not listed)");
        });
    }

    private static Command Revoke()
    {
        var name = NameArgument();
        var command = new Command("revoke", "Revoke a token: it stops working at once and its MQTT connections are closed") { name };
        return CommandSupport.WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            string tokenName = parse.GetValue(name)!;
            using var document = await CommandSupport.SendAsync(client, HttpMethod.Delete, "api/v1/tokens/" + Uri.EscapeDataString(tokenName), null, cancellationToken);
            await output.WriteLineAsync($"revoked {tokenName}");
        });
    }

    private static Argument<string> NameArgument() => new("name") { Description = "The token's name: 1–64 letters, digits, '_', '-', '.'" };

    /// <summary>The namespaces a token is limited to, comma-separated; null when it may use every namespace.</summary>
    private static string? Namespaces(JsonElement token) =>
        token.TryGetProperty("namespaces", out var value) && value.ValueKind == JsonValueKind.Array
            ? string.Join(',', value.EnumerateArray().Select(n => n.GetString()))
            : null;

    private static string Rights(JsonElement token) =>
        $"scope {token.GetProperty("scope").GetString()}" + (Namespaces(token) is { } namespaces ? $", namespaces {namespaces}" : "")
        + (Topics(token) is { } topics ? $", mqtt {topics}" : "");

    private static Option<string[]> TopicOption(string name, string description) => new(name)
    {
        Description = description,
        Arity = ArgumentArity.ZeroOrMore,
        AllowMultipleArgumentsPerToken = false,
    };

    /// <summary>
    /// A token's MQTT topic filters named as the CLI flags, in one word for the table: "subscribe=devices/+/telemetry,deny-subscribe=devices/secret/#"
    /// (several filters of a list joined by '|'); null when it has none.
    /// </summary>
    private static string? Topics(JsonElement token)
    {
        if (!token.TryGetProperty("mqtt", out var mqtt) || mqtt.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        var parts = mqtt.EnumerateObject()
            .Where(list => list.Value.ValueKind == JsonValueKind.Array && list.Value.GetArrayLength() > 0)
            .Select(list => list.Name.Replace('_', '-') + "=" + string.Join('|', list.Value.EnumerateArray().Select(f => f.GetString())));
        return string.Join(',', parts) is { Length: > 0 } text ? text : null;
    }

    private static string CreatedAt(JsonElement token) =>
        token.TryGetProperty("created_at", out var value) && value.ValueKind == JsonValueKind.String ? value.GetString()! : "";
}
