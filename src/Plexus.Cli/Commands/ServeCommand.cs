using System.CommandLine;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Plexus.Server;

namespace Plexus.Cli.Commands;

/// <summary>
/// `plexus serve`: runs the server on the embedded store until SIGINT or SIGTERM. Its options, how they are read and
/// checked, are in ServeCommand.Options.cs.
/// </summary>
internal static partial class ServeCommand
{
    public static Command Create()
    {
        var command = new Command("serve", "Run the Plexus server with the embedded store.");
        foreach (var option in new[] { Data, Http, HttpsCert, HttpsKey, Mqtt, MqttTls, MqttTlsCert, MqttTlsKey, MqttClientCa, MqttMaxMessageSize, MqttMaxConnectSize, MqttConnectTimeout, MqttMaxConnections, MqttMaxConnectionsPerIp, MqttMaxRetainedMessages, MqttMaxRetainedBytes, MqttMaxRetainedMessagesPerClient, MqttMaxRetainedBytesPerClient, MqttMaxRate, MqttMaxBurst, MqttReceiveMaximum, MqttMaxTopicAliases, MqttMaxKeepAlive, MqttMaxSessionExpiry, MqttMaxSessionStoreBytes, MqttAclFile, Pg, PgTlsCert, PgTlsKey, PgAllowLoopbackCleartext, PgMaxConnections, PgMaxConnectionsPerIp, PgAuthTimeout, PgMaxMessageSize, AdminToken, ProvisioningKey, MaxBodySize, MaxImportSize, MaxNamespaces, MaxMeasurementsPerNamespace, MaxColumnsPerMeasurement, MaxNewMeasurementsPerWrite, MaxNewColumnsPerWrite, MaxNewSeriesPerWrite, QueryTimeout, QueryMaxRows, QueryMaxBytes, QueryConcurrency, RulesMax, RulesQueue, WebhookTimeout, WebhookRetries, RetentionCheckInterval, Compaction, PartitionSpan, CompactionGrace, CompactionCheckInterval, MemoryLimit, DeviceTag, LogLevel, MetricsPublic, MapTilesOption, MapAttribution, LiveMaxClients, LiveQueue, RulesStateInterval, RulesMaxWindowBytes, RulesMaxCountWithin, RulesMaxStateBytes, MaxDesiredBytes, MaxCommandBytes, MaxCommandTimeout, MaxPendingCommands, CommandHistoryRetention, Config })
        {
            command.Options.Add(option);
        }

        command.Options.Add(RollupInterval);
        command.Options.Add(RollupsMax);
        command.Options.Add(Demo);
        command.SetAction(RunAsync);
        return command;
    }

    private static async Task<int> RunAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        ServeSettings settings;
        PlexusServerOptions options;
        bool demo;
        try
        {
            settings = ServeSettings.Load(parse.GetValue(Config) ?? Environment.GetEnvironmentVariable("PLEXUS_CONFIG"));
            options = ReadOptions(parse, settings);
            settings.LogLevel = Value(parse, settings, LogLevel, "PLEXUS_LOG_LEVEL");
            demo = parse.GetValue(Demo) || IsTrue(Environment.GetEnvironmentVariable("PLEXUS_DEMO"), "PLEXUS_DEMO") || IsTrue(settings.Get("demo"), "demo");
        }
        catch (Exception error) when (error is ArgumentException or FormatException or IOException or JsonException)
        {
            await Console.Error.WriteLineAsync("plexus serve: " + error.Message);
            return 2;
        }

        using var loggerFactory = LoggerFactory.Create(logging => logging
            .AddSimpleConsole(console =>
            {
                console.SingleLine = true;
                console.TimestampFormat = "yyyy-MM-dd HH:mm:ss ";
                console.UseUtcTimestamp = true;
            })
            .SetMinimumLevel(ParseLevel(settings.LogLevel))
            .AddFilter("Microsoft", Microsoft.Extensions.Logging.LogLevel.Warning));

        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var registrations = new SignalRegistrations(stop);
        using var cancelRegistration = cancellationToken.Register(() => stop.TrySetResult());

        PlexusServer server;
        try
        {
            server = await PlexusServer.StartAsync(options, loggerFactory, cancellationToken: cancellationToken);
        }
        catch (Exception error) when (error is IOException or InvalidOperationException or Storage.StorageException or UnauthorizedAccessException)
        {
            await Console.Error.WriteLineAsync("plexus serve: cannot start: " + error.Message);
            return 1;
        }

        PrintWelcome(server, options);
        using var demoStop = new CancellationTokenSource();
        var demoRun = demo ? Client.DemoRunner.RunInProcessAsync(server, Console.Out, Client.DemoRunner.DefaultInterval, demoStop.Token) : Task.CompletedTask;
        await stop.Task;
        await demoStop.CancelAsync();
        await demoRun;
        await server.StopAsync();
        return 0;
    }

    private static void PrintWelcome(PlexusServer server, PlexusServerOptions options)
    {
        var output = Console.Out;
        output.WriteLine();
        output.WriteLine($"  Plexus is running.");
        output.WriteLine($"  data       {Path.GetFullPath(options.DataDirectory)}");
        output.WriteLine($"  HTTP       {server.HttpAddress}  (InfluxDB clients and Telegraf: point them here)");
        output.WriteLine($"  console    {server.HttpAddress}  (open it in a browser; sign in with the admin token or an API token)");
        output.WriteLine($"  write      POST {server.HttpAddress}api/v2/write?bucket=main   or   POST {server.HttpAddress}write?db=main");
        output.WriteLine($"  query      POST {server.HttpAddress}api/v1/sql   or   plexus query \"SELECT ...\"");
        output.WriteLine(server.MqttEndpoint is { } mqtt
            ? $"  MQTT       mqtt://{mqtt}  (password: an API token; devices publish to devices/<id>/telemetry)"
            : "  MQTT       off");
        output.WriteLine(server.PgEndpoint is { } pg
            ? $"  PostgreSQL postgresql://{pg}/main  (password: an API token; psql, Grafana, Npgsql...; read-only)"
            : "  PostgreSQL off");
        if (server.MqttTlsEndpoint is { } mqttTls)
        {
            output.WriteLine($"  MQTT TLS   mqtts://{mqttTls}");
        }

        if (server.MqttEndpoint is not null)
        {
            output.WriteLine($"  MQTT WS    {server.HttpAddress.ToString().Replace("http", "ws", StringComparison.Ordinal)}mqtt  (subprotocol mqtt)");
        }

        if (server.MqttEndpoint is not null && !string.IsNullOrEmpty(options.ProvisioningKey))
        {
            output.WriteLine("  provisioning  on: unknown devices connecting with the provisioning key are registered");
        }

        if (server.AdminTokens.GeneratedToken is { } token)
        {
            output.WriteLine();
            output.WriteLine($"  admin token (shown only this once; only its hash is stored):");
            output.WriteLine($"    {token}");
            output.WriteLine($"  export PLEXUS_TOKEN={token}");
        }
        else
        {
            output.WriteLine($"  admin token  as given or stored earlier (hash in {server.AdminTokens.Path}); set a new one with --admin-token");
        }

        output.WriteLine();
        output.Flush();
    }

    private static bool IsTrue(string? text, string name) => text?.Trim().ToLowerInvariant() switch
    {
        null or "" or "false" or "0" or "no" => false,
        "true" or "1" or "yes" => true,
        _ => throw new ArgumentException($"{name}: \"{text}\" is not true or false"),
    };

    private static LogLevel ParseLevel(string? text) => text?.ToLowerInvariant() switch
    {
        null or "" or "information" or "info" => Microsoft.Extensions.Logging.LogLevel.Information,
        "trace" => Microsoft.Extensions.Logging.LogLevel.Trace,
        "debug" => Microsoft.Extensions.Logging.LogLevel.Debug,
        "warning" or "warn" => Microsoft.Extensions.Logging.LogLevel.Warning,
        "error" => Microsoft.Extensions.Logging.LogLevel.Error,
        _ => throw new ArgumentException($"log level \"{text}\" is not one of trace, debug, information, warning, error"),
    };
}
