using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Plexus.PgWire.Protocol;
using Plexus.PgWire.Sql;
using Plexus.Query;

namespace Plexus.PgWire;

/// <summary>Streamed answers: a query's thread writes messages into a pipe, and this side forwards them to the socket within a portal's row limit.</summary>
internal sealed partial class PgConnection
{
    private async Task<StreamingResult> StartQueryAsync(string sql, PgAnswerFormat format)
    {
        var result = new StreamingResult(format, new Pipe(AnswerPipe), _server.Queries.Options.Timeout, _server.Time, _closing);
        lock (_activeLock)
        {
            _active.Add(result);
        }

        try
        {
            var request = new QueryRequest(sql, _namespace, _principal.Namespaces);
            result.Running = await _server.Queries.StartAsync(request, format, result.Pipe.Writer, long.MaxValue, result.Token);
            return result;
        }
        catch (Exception error) when (error is not OutOfMemoryException)
        {
            Forget(result);
            bool cancelled = result.CancelRequested;
            result.Dispose();
            throw PgErrors.From(error, sql, cancelled);
        }
    }

    /// <summary>Copies the answer's messages from the pipe to the socket; false when <paramref name="maxRows"/> were sent and more may follow.</summary>
    private async Task<bool> ForwardAsync(StreamingResult result, int maxRows)
    {
        var reader = result.Pipe.Reader;
        int sent = 0;
        while (true)
        {
            var read = await reader.ReadAsync(_closing);
            var buffer = read.Buffer;
            var position = buffer.Start;
            bool full = false;
            while (true)
            {
                var rest = buffer.Slice(position);
                if (rest.Length < 5)
                {
                    break;
                }

                rest.Slice(0, 5).CopyTo(_header);
                int length = BinaryPrimitives.ReadInt32BigEndian(_header.AsSpan(1));
                if (rest.Length < 1 + length)
                {
                    break;
                }

                var message = rest.Slice(0, 1 + length);
                foreach (var segment in message)
                {
                    _out.Write(segment.Span);
                }

                position = message.End;
                result.Rows++;
                sent++;
                if (maxRows > 0 && sent >= maxRows)
                {
                    full = true;
                    break;
                }
            }

            reader.AdvanceTo(position, full ? position : buffer.End);
            if (_out.Length >= FlushThreshold)
            {
                await FlushAsync(_closing);
            }

            if (full)
            {
                return false;
            }

            if (read.IsCompleted && buffer.Slice(position).Length == 0)
            {
                return true;
            }
        }
    }

    /// <summary>Waits for the end of an answer that was read to its end; throws the error that ended it early.</summary>
    private async Task<bool> FinishAsync(StreamingResult result)
    {
        await result.Pipe.Reader.CompleteAsync();
        var outcome = await result.Running!.Completion;
        Forget(result);
        bool cancelled = result.CancelRequested;
        bool expired = result.Expired;
        result.Dispose();
        if (outcome.End == QueryEnd.Complete)
        {
            return true;
        }

        var options = _server.Queries.Options;
        throw expired && outcome.End == QueryEnd.Cancelled
            ? PgErrors.FromOutcome(outcome with { End = QueryEnd.Timeout }, cancelled, options.MaxRows, options.MaxBytes)
            : PgErrors.FromOutcome(outcome, cancelled, options.MaxRows, options.MaxBytes);
    }

    /// <summary>Stops an answer nobody will read further (a closed portal, a describe), and waits for its thread.</summary>
    internal async Task AbandonAsync(StreamingResult result)
    {
        result.RequestStop();
        await result.Pipe.Reader.CompleteAsync();
        if (result.Running is { } running)
        {
            await running.Completion;
        }

        Forget(result);
        result.Dispose();
    }

    private void Forget(StreamingResult result)
    {
        lock (_activeLock)
        {
            _active.Remove(result);
        }
    }
}
