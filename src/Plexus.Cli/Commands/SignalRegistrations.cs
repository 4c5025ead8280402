using System.Runtime.InteropServices;

namespace Plexus.Cli.Commands;

/// <summary>SIGINT, SIGTERM and SIGQUIT all mean "stop cleanly": finish, commit and close.</summary>
internal sealed class SignalRegistrations : IDisposable
{
    private readonly PosixSignalRegistration[] _registrations;

    public SignalRegistrations(TaskCompletionSource stop)
    {
        void Handler(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.TrySetResult();
        }

        _registrations =
        [
            PosixSignalRegistration.Create(PosixSignal.SIGINT, Handler),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handler),
            PosixSignalRegistration.Create(PosixSignal.SIGQUIT, Handler),
        ];
    }

    public void Dispose()
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }
    }
}
