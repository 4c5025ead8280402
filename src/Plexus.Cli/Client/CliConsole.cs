using System.Runtime.InteropServices;
using Spectre.Console;

namespace Plexus.Cli.Client;

/// <summary>
/// Where the client commands meet the process console. Output and error writers come from the
/// <see cref="System.CommandLine.InvocationConfiguration"/> of the invocation (so tests pass their own writers);
/// standard input can be replaced per async flow so tests can feed `-` without touching the real console.
/// </summary>
internal static class CliConsole
{
    private static readonly AsyncLocal<Func<Stream>?> s_input = new();

    /// <summary>Opens standard input, or the stream a test put in its place for the current async flow.</summary>
    public static Stream OpenStandardInput() => s_input.Value?.Invoke() ?? Console.OpenStandardInput();

    /// <summary>True when standard input is a person typing rather than a pipe or a file.</summary>
    public static bool InputIsTerminal => s_input.Value is null && !Console.IsInputRedirected;

    /// <summary>Replaces standard input for the calling async flow until the returned scope is disposed.</summary>
    public static IDisposable RedirectInput(Func<Stream> open)
    {
        ArgumentNullException.ThrowIfNull(open);
        var previous = s_input.Value;
        s_input.Value = open;
        return new Scope(() => s_input.Value = previous);
    }

    /// <summary>
    /// True when <paramref name="writer"/> is the process's standard output and that is a terminal. Anything else
    /// (a pipe, a file, a test's StringWriter) gets plain text without ANSI sequences or live progress.
    /// </summary>
    public static bool IsTerminal(TextWriter writer) =>
        ReferenceEquals(writer, Console.Out) && !Console.IsOutputRedirected;

    /// <summary>A Spectre console that writes to <paramref name="writer"/> with terminal capabilities detected.</summary>
    public static IAnsiConsole CreateAnsiConsole(TextWriter writer) =>
        AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(writer) });

    /// <summary>
    /// A token that is cancelled by <paramref name="cancellationToken"/> or by the first Ctrl+C / SIGTERM, so a command
    /// can stop cleanly and print what it got done. A second signal is left to its default: it ends the process.
    /// </summary>
    /// <remarks>
    /// System.CommandLine only cancels its token when the invocation configuration has a process termination timeout,
    /// which `InvokeAsync()` without a configuration does not set; the commands should not depend on how they were invoked.
    /// </remarks>
    public static TerminationScope CancelOnTermination(CancellationToken cancellationToken) => new(cancellationToken);

    internal sealed class TerminationScope : IDisposable
    {
        private readonly CancellationTokenSource _source;
        private readonly PosixSignalRegistration[] _registrations;
        private int _signals;

        public TerminationScope(CancellationToken cancellationToken)
        {
            _source = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            _registrations =
            [
                PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal),
                PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal),
            ];
        }

        public CancellationToken Token => _source.Token;

        public void Dispose()
        {
            foreach (var registration in _registrations)
            {
                registration.Dispose();
            }

            _source.Dispose();
        }

        private void OnSignal(PosixSignalContext context)
        {
            if (Interlocked.Increment(ref _signals) == 1)
            {
                context.Cancel = true;
                _source.Cancel();
            }
        }
    }

    private sealed class Scope(Action restore) : IDisposable
    {
        private Action? _restore = restore;

        public void Dispose()
        {
            _restore?.Invoke();
            _restore = null;
        }
    }
}
