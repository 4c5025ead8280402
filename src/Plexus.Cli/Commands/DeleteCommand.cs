using System.CommandLine;
using System.Text;
using Plexus.Cli.Client;

namespace Plexus.Cli.Commands;

/// <summary>
/// <c>plexus delete &lt;namespace.measurement | namespace&gt; [--from] [--to] [--where] [--all]</c>: deletes data on purpose
/// through the server (docs/cli.md#plexus-delete); needs an admin token. Without a filter it drops the measurement or
/// the namespace, and only with <c>--all</c>, so that a forgotten filter never drops everything.
/// </summary>
internal static class DeleteCommand
{
    public static Command Create()
    {
        var target = new Argument<string>("target")
        {
            Description = "namespace.measurement (e.g. main.readings; a measurement's own dots stay: main.cpu.load), or a namespace alone",
        };
        var from = new Option<string?>("--from") { Description = "Delete rows at or after this time: 2026-01-02T03:04:05Z, 2026-01-02 or Unix nanoseconds" };
        var to = new Option<string?>("--to") { Description = "Delete rows before this time (same forms as --from)" };
        var where = new Option<string?>("--where")
        {
            Description = "Only rows whose tags match, e.g. \"device = 'truck_1'\" or \"site IN ('a', 'b') AND NOT device = 'x'\"; tags only, values in single quotes",
        };
        var all = new Option<bool>("--all") { Description = "No filter: drop the whole measurement (or namespace) with all its data" };
        var command = new Command("delete", "Delete data: rows of a measurement by time and tags, or a whole measurement or namespace with --all") { target, from, to, where, all };
        return CommandSupport.WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            string name = parse.GetValue(target)!;
            string? fromText = parse.GetValue(from);
            string? toText = parse.GetValue(to);
            string? whereText = parse.GetValue(where);
            bool filtered = fromText is not null || toText is not null || whereText is not null;
            bool dropAll = parse.GetValue(all);
            if (filtered == dropAll)
            {
                throw new CliException(dropAll
                    ? "--all drops everything in the target and takes no --from, --to or --where; leave it out to delete only the rows that match"
                    : $"say what to delete: --from, --to and/or --where for some rows, or --all to drop {name} with all its data", exitCode: 1);
            }

            bool measurement = name.Contains('.', StringComparison.Ordinal);
            if (!measurement && whereText is not null)
            {
                throw new CliException("--where needs a measurement (tags belong to one): name it as namespace.measurement", exitCode: 1);
            }

            var path = new StringBuilder(measurement ? "api/v1/measurements/" : "api/v1/namespaces/").Append(Uri.EscapeDataString(name));
            char separator = '?';
            foreach (var (key, value) in (ReadOnlySpan<(string, string?)>)[("from", fromText), ("to", toText), ("where", whereText)])
            {
                if (value is not null)
                {
                    path.Append(separator).Append(key).Append('=').Append(Uri.EscapeDataString(value));
                    separator = '&';
                }
            }

            using var document = await CommandSupport.SendAsync(client, HttpMethod.Delete, path.ToString(), null, cancellationToken, ownBadRequest: true);
            var root = document!.RootElement;
            long rows = root.GetProperty("rows_deleted").GetInt64();
            var dropped = root.GetProperty("measurements_dropped").EnumerateArray().Select(m => m.GetString()).ToList();
            string what = root.GetProperty("namespace_dropped").GetBoolean() ? $"; dropped namespace {name}"
                : dropped.Count > 0 ? "; dropped " + string.Join(", ", dropped) : "";
            await output.WriteLineAsync($"deleted {rows} row{(rows == 1 ? "" : "s")}{what}");
        });
    }
}
