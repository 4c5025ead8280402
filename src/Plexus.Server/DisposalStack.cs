using Microsoft.Extensions.Logging;

namespace Plexus.Server;

/// <summary>
/// What the server opened, closed in the reverse order: a component is closed before what it was built on (the broker
/// before the live state it reports to, the registries before the store). One stack serves a start that fails half-way
/// and a clean stop, so the two cannot drift apart. A component that fails to close is logged and the rest still close.
/// </summary>
internal sealed class DisposalStack(ILogger logger) : IAsyncDisposable
{
    private readonly Stack<(string Name, Func<ValueTask> Close)> _stack = new();

    /// <summary>Takes <paramref name="resource"/> to close later (asynchronously when it can); returns it.</summary>
    public T Own<T>(string name, T resource)
        where T : class
    {
        switch (resource)
        {
            case IAsyncDisposable asynchronous:
                _stack.Push((name, asynchronous.DisposeAsync));
                break;
            case IDisposable disposable:
                _stack.Push((name, () =>
                {
                    disposable.Dispose();
                    return ValueTask.CompletedTask;
                }
                ));
                break;
            default:
                throw new ArgumentException($"{name} ({typeof(T).Name}) has nothing to close", nameof(resource));
        }

        return resource;
    }

    /// <summary>Runs <paramref name="close"/> in its place in the order.</summary>
    public void Defer(string name, Func<ValueTask> close) => _stack.Push((name, close));

    public async ValueTask DisposeAsync()
    {
        while (_stack.TryPop(out var entry))
        {
            try
            {
                await entry.Close();
            }
            catch (Exception error) when (error is not OutOfMemoryException)
            {
                logger.LogError(error, "Could not close {Component}; closing the rest", entry.Name);
            }
        }
    }
}
