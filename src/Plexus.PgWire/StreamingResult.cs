using System.IO.Pipelines;
using Plexus.PgWire.Protocol;
using Plexus.Query;

namespace Plexus.PgWire;

/// <summary>
/// A query's answer on its way to the socket: the pipe its thread writes messages into, the rows forwarded so far, and
/// its cancellation, which a CancelRequest, a closed portal, the connection's end or the query timeout trigger.
/// </summary>
internal sealed class StreamingResult : IDisposable
{
    private readonly CancellationTokenSource _deadline;
    private readonly CancellationTokenSource _stop;

    public StreamingResult(PgAnswerFormat format, Pipe pipe, TimeSpan timeout, TimeProvider time, CancellationToken closing)
    {
        Format = format;
        Pipe = pipe;

        // The service's timeout interrupts the engine; a client that stops reading leaves the query's thread waiting on a
        // full pipe instead, which only this deadline ends.
        _deadline = new CancellationTokenSource(timeout, time);
        _stop = CancellationTokenSource.CreateLinkedTokenSource(closing, _deadline.Token);
    }

    public PgAnswerFormat Format { get; }

    public Pipe Pipe { get; }

    public RunningQuery? Running { get; set; }

    public long Rows { get; set; }

    public CancellationToken Token => _stop.Token;

    public bool CancelRequested { get; private set; }

    public bool Expired => _deadline.IsCancellationRequested;

    public void RequestCancel()
    {
        CancelRequested = true;
        RequestStop();
    }

    public void RequestStop()
    {
        try
        {
            _stop.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // It ended meanwhile.
        }
    }

    public void Dispose()
    {
        _stop.Dispose();
        _deadline.Dispose();
    }
}
