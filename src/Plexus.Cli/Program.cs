using System.CommandLine;
using Plexus.Cli.Commands;

var root = new RootCommand("Plexus: an IoT data platform. Devices in, SQL out.");
root.Subcommands.Add(ServeCommand.Create());
root.Subcommands.Add(WriteCommand.Create());
root.Subcommands.Add(QueryCommand.Create());
root.Subcommands.Add(DeleteCommand.Create());
root.Subcommands.Add(ExportCommand.Create());
root.Subcommands.Add(ImportCommand.Create());
root.Subcommands.Add(RetentionCommand.Create());
root.Subcommands.Add(RollupsCommand.Create());
root.Subcommands.Add(BackupCommand.Create());
root.Subcommands.Add(BackupCommand.CreateRestore());
root.Subcommands.Add(DevicesCommand.Create());
root.Subcommands.Add(TokensCommand.Create());
root.Subcommands.Add(GeofencesCommand.Create());
root.Subcommands.Add(RulesCommand.Create());
root.Subcommands.Add(AlarmsCommand.Create());
root.Subcommands.Add(PositionsCommand.Create());
root.Subcommands.Add(AssetsCommand.Create());
root.Subcommands.Add(SimulateCommand.Create());
root.Subcommands.Add(DemoCommand.Create());

// `serve` handles SIGINT/SIGTERM itself so that it can finish in-flight writes; System.CommandLine's own
// handler would give up after a fixed timeout.
return await UsageErrors.InvokeAsync(root, args, new InvocationConfiguration { ProcessTerminationTimeout = null });
