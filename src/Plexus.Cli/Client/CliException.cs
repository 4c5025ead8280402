namespace Plexus.Cli.Client;

/// <summary>
/// A failure the user has to act on (server unreachable, bad token, bad request). The message is printed as is,
/// without a stack trace, and the command exits with <see cref="ExitCode"/>.
/// </summary>
public sealed class CliException : Exception
{
    public CliException()
        : this("the command failed")
    {
    }

    public CliException(string message)
        : this(message, exitCode: 1)
    {
    }

    public CliException(string message, Exception innerException)
        : base(message, innerException)
    {
        ExitCode = 1;
    }

    public CliException(string message, int exitCode, Exception? innerException = null)
        : base(message, innerException)
    {
        ExitCode = exitCode;
    }

    public int ExitCode { get; }
}
