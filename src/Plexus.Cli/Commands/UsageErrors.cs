using System.CommandLine;
using System.CommandLine.Parsing;

namespace Plexus.Cli.Commands;

/// <summary>
/// Runs a parsed command line, answering a usage mistake with one line and where the help is, instead of
/// System.CommandLine's default of the message followed by the whole help text, in which the message gets lost.
/// </summary>
internal static class UsageErrors
{
    public const int ExitCode = 1;

    public static Task<int> InvokeAsync(RootCommand root, string[] args, InvocationConfiguration configuration, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(configuration);
        var parse = root.Parse(args);
        if (parse.Errors.Count == 0)
        {
            return parse.InvokeAsync(configuration, cancellationToken);
        }

        // "Required command was not provided" comes first for `plexus devices frobnicate`; the unknown word is the news.
        var first = parse.Errors.FirstOrDefault(e => e.Message.StartsWith("Unrecognized", StringComparison.Ordinal)) ?? parse.Errors[0];
        var error = configuration.Error ?? Console.Error;
        error.WriteLine("error: " + Describe(first) + (parse.Errors.Count > 1 ? $" (and {parse.Errors.Count - 1} more)" : ""));
        error.WriteLine($"Run '{CommandPath(parse.CommandResult)} --help' for usage.");
        return Task.FromResult(ExitCode);
    }

    /// <summary>The parser's message on one line, after the option it is about: "--format: Argument 'xml' not recognized. Must be one of: 'table', 'json'".</summary>
    private static string Describe(ParseError error)
    {
        string[] lines = error.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string message = lines.Length <= 1 ? error.Message.Trim() : lines[0] + " " + string.Join(", ", lines[1..]);
        return error.SymbolResult is OptionResult option && !message.Contains(option.Option.Name, StringComparison.Ordinal)
            ? option.Option.Name + ": " + message
            : message;
    }

    private static string CommandPath(CommandResult command)
    {
        var names = new List<string>();
        for (SymbolResult? result = command; result is CommandResult current; result = current.Parent)
        {
            names.Add(current.Parent is null ? "plexus" : current.Command.Name);
        }

        names.Reverse();
        return string.Join(' ', names);
    }
}
