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
        var command = new Command("create", "Make a token and print it (shown once; the server keeps only its hash)") { name, scope };
        return CommandSupport.WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            string body = CommandSupport.Json(json =>
            {
                json.WriteString("name", parse.GetValue(name));
                json.WriteString("scope", parse.GetValue(scope));
            });
            using var document = await CommandSupport.SendAsync(client, HttpMethod.Post, "api/v1/tokens", body, cancellationToken);
            await output.WriteLineAsync(document!.RootElement.GetProperty("token").GetString());
            await error.WriteLineAsync($"note: token \"{parse.GetValue(name)}\" (scope {parse.GetValue(scope)}) is shown only now; the server keeps only its hash.");
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
                .Select(t => new[] { t.GetProperty("name").GetString() ?? "", t.GetProperty("scope").GetString() ?? "", CreatedAt(t) })
                .Prepend(["NAME", "SCOPE", "CREATED"])
                .ToList();
            int[] widths = [.. Enumerable.Range(0, 3).Select(i => rows.Max(r => r[i].Length))];
            foreach (var row in rows)
            {
                await output.WriteLineAsync(string.Join("  ", row.Select((cell, i) => cell.PadRight(widths[i]))).TrimEnd());
            }

            await error.WriteLineAsync($"{rows.Count - 1} token{(rows.Count == 2 ? "" : "s")} (the admin token is not listed)");
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

    private static string CreatedAt(JsonElement token) =>
        token.TryGetProperty("created_at", out var value) && value.ValueKind == JsonValueKind.String ? value.GetString()! : "";
}
