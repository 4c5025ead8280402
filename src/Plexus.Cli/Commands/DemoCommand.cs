using System.CommandLine;
using Plexus.Cli.Client;

namespace Plexus.Cli.Commands;

/// <summary>
/// <c>plexus demo</c>: a small live fleet (trucks, freezers, pumps) on a running server, publishing over MQTT with
/// device tokens until stopped; <c>plexus demo remove</c> takes its devices, assets and geofences away.
/// </summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var mqtt = new Option<string?>("--mqtt")
        {
            Description = "The server's MQTT address host:port (default: the host of --url, port 1883)",
        };
        var interval = new Option<string>("--interval")
        {
            Description = "Time between two reports of each device, e.g. 2s or 500ms",
            DefaultValueFactory = _ => "2s",
        };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the fleet's randomness (faults, silences)", DefaultValueFactory = _ => 1 };
        var command = new Command("demo", "Register a demo fleet (tag demo=true) on a server and keep it publishing over MQTT until stopped") { mqtt, interval, seed };
        CommandSupport.WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            TimeSpan every;
            try
            {
                every = Units.ParseDuration(parse.GetValue(interval)!, "interval");
            }
            catch (Exception e) when (e is ArgumentException or FormatException)
            {
                throw new CliException(e.Message, exitCode: 1);
            }

            (string host, int port) = MqttAddress(parse.GetValue(mqtt), client.BaseAddress);
            var runner = new DemoRunner(client, host, port, error, TimeProvider.System);
            await runner.RegisterAsync(cancellationToken);
            await output.WriteLineAsync("demo: running; try plexus query \"SELECT * FROM devices WHERE tags->>'demo' = 'true'\"; stop with Ctrl-C, remove with plexus demo remove");
            await runner.RunAsync(every, parse.GetValue(seed), cancellationToken);
            await output.WriteLineAsync($"demo: stopped after {runner.Published} messages");
        });

        var keepData = new Option<bool>("--keep-data") { Description = "Keep the rows the demo's devices sent (by default they are deleted too)" };
        var remove = new Command("remove", "Remove the demo's devices, assets and geofences (everything tagged demo=true) and the data they sent") { keepData };
        CommandSupport.WithClient(remove, async (parse, client, output, error, cancellationToken) => await DemoRunner.RemoveAsync(client, output, cancellationToken, parse.GetValue(keepData)));
        command.Subcommands.Add(remove);
        return command;
    }

    internal static (string Host, int Port) MqttAddress(string? given, Uri url)
    {
        if (given is null)
        {
            return (url.Host, 1883);
        }

        int colon = given.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(given.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
        {
            throw new CliException($"--mqtt {given}: give host:port, e.g. 127.0.0.1:1883");
        }

        return (given[..colon], port);
    }
}
