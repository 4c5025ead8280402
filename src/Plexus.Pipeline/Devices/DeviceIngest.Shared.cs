using System.Buffers;
using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Plexus.Core;
using Plexus.Storage;
using Plexus.Storage.Writing;

namespace Plexus.Pipeline.Devices;

/// <summary>Where the outcome of a shared-batch message that wants an acknowledgement (QoS 1) goes.</summary>
internal interface IIngestAcknowledger
{
    /// <summary>Called once, in the order the connection's messages were appended, after their commit.</summary>
    void Acknowledge(ushort packetId, in DeviceIngestOutcome outcome);

    /// <summary>The commit failed: nothing of the message is stored and it must not be acknowledged.</summary>
    void Fail(Exception error);
}

/// <summary>What <see cref="DeviceIngest.Stage"/> did with a message.</summary>
internal enum AppendStatus
{
    /// <summary>In the connection's staging; <see cref="DeviceIngest.Commit"/> moves it into the shared batch, committed (and acknowledged) with the others.</summary>
    Appended,

    /// <summary>Not decodable here; nothing was added. The caller takes the ordinary path, which reports why.</summary>
    NotDecoded,

    /// <summary>The broker is stopping; nothing was added.</summary>
    Stopping,
}

/// <summary>
/// The shared batch: each connection decodes its messages into its own staging batch and moves them, several at a
/// time, into one open <see cref="PointBatch"/>, which goes to the store as one write when the store has room (at
/// most <see cref="MaxWritesInFlight"/> writes outstanding). A message therefore costs a decode and a copy into
/// arrays, not a write request, a task and a trip through the writer's queue of its own. QoS 1 acknowledgements are sent after the write's commit, in
/// append order; each message's points carry its ordinal as their line number, so a refusal by the store is
/// traced back to the message it came from.
/// </summary>
public sealed partial class DeviceIngest
{
    /// <summary>
    /// Writes handed to the store and not yet committed; more messages wait in the open batch. One: what arrives
    /// during a commit goes into the next as one write (measured: a second write in flight made batches smaller
    /// and cost 10–30 % of the MQTT throughput, docs/architecture.md).
    /// </summary>
    public const int MaxWritesInFlight = 1;

    /// <summary>
    /// Points the open batch takes while a write is in flight before appending connections wait. Its arrays are
    /// sized for this many from the start (they are pooled): grown under load, they were copied through the large
    /// object heap while other connections waited on the lock, and cost full collections.
    /// </summary>
    public const int MaxOpenPoints = 8_192;

    private const int OpenBatchSlack = 4_096;

    private readonly Lock _shared = new();
    private readonly Channel<SharedWrite> _sharedWrites = Channel.CreateUnbounded<SharedWrite>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentStack<SharedWrite> _sharedPool = new();
    private readonly List<(long Sequence, TaskCompletionSource Done)> _storedWaiters = [];
    private SharedWrite? _open;
    private long _lastSequence;
    private long _storedSequence;
    private int _writesInFlight;
    private TaskCompletionSource? _roomForMore;
    private Task? _sharedLoop;

    /// <summary>
    /// Allocates the shared batches now (the open one, the one being written, the one being reported): some MB
    /// each, allocated at start rather than under the first load, where the full collections they trigger stalled
    /// every connection.
    /// </summary>
    internal void PrepareSharedBatches()
    {
        lock (_shared)
        {
            while (_sharedPool.Count < MaxWritesInFlight + 2)
            {
                _sharedPool.Push(new SharedWrite());
            }
        }
    }

    /// <summary>
    /// Decodes a data message (telemetry, SenML, line protocol) into a connection's <paramref name="staging"/>;
    /// <see cref="Commit"/> then moves everything staged into the shared batch under one lock, so a connection
    /// that read many messages at once takes the lock once. <paramref name="acknowledger"/> is null for QoS 0.
    /// </summary>
    internal AppendStatus Stage(IngestStaging staging, DeviceTopic topic, ReadOnlySpan<byte> payload, IIngestAcknowledger? acknowledger, ushort packetId)
    {
        if (Volatile.Read(ref _draining) != 0)
        {
            return AppendStatus.Stopping;
        }

        // The decoders add nothing for a message they reject, so the batch needs no rolling back.
        long now = _time.GetUtcNow().ToUnixTimeMilliseconds() * 1_000_000;
        int firstPoint = staging.Batch.Count;
        string? error = DecodeSpan(topic, payload, contentType: null, now, staging.Batch);
        if (error is not null || staging.Batch.Count == firstPoint)
        {
            return AppendStatus.NotDecoded;
        }

        staging.Add(topic, acknowledger, packetId, payload, firstPoint);
        return AppendStatus.Appended;
    }

    /// <summary>
    /// Moves what <paramref name="staging"/> holds into the shared batch (in staging order, after everything
    /// committed before) and empties it. Returns a task when the open batch is full: the connection should stop
    /// reading until it completes (back-pressure through TCP). <paramref name="sequence"/> names the shared write
    /// the messages went into (see <see cref="WhenStoredAsync"/>).
    /// </summary>
    internal Task? Commit(IngestStaging staging, out long sequence)
    {
        sequence = 0;
        if (staging.Messages == 0)
        {
            return null;
        }

        Task? wait = null;
        SharedWrite? toWrite = null;
        lock (_shared)
        {
            // Taken even while stopping: these messages were read and their connection moved on; the drain waits for them.
            SharedWrite open = _open ??= NextOpen();
            open.AddAll(staging);
            sequence = open.Sequence;
            if (_writesInFlight < MaxWritesInFlight)
            {
                toWrite = TakeOpen();
            }
            else if (open.Batch.Count >= MaxOpenPoints)
            {
                _roomForMore ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                wait = _roomForMore.Task;
            }
        }

        staging.Reset();
        if (toWrite is not null)
        {
            StartWrite(toWrite);
        }

        return wait;
    }

    /// <summary>Marks the device as seen now (its live state's last-seen time).</summary>
    internal void Touch(string deviceId) => _state?.Touch(deviceId);

    // Under _shared. Created on the first message, so a broker no device publishes to holds none.
    private SharedWrite NextOpen()
    {
        SharedWrite open = _sharedPool.TryPop(out var pooled) ? pooled : new SharedWrite();
        open.Sequence = ++_lastSequence;
        return open;
    }

    // Under _shared.
    private SharedWrite TakeOpen()
    {
        SharedWrite full = _open!;
        _open = null;
        _writesInFlight++;
        _sharedLoop ??= Task.Run(CompleteSharedWritesAsync);
        return full;
    }

    private void StartWrite(SharedWrite write)
    {
        try
        {
            // Not cancellable on purpose: once handed over, a write is committed or failed as a whole.
            write.Write = _writer.WriteAsync(_namespace, write.Batch, CancellationToken.None);
        }
        catch (Exception error)
        {
            write.Write = Task.FromException<WriteResult>(error);
        }

        // Queued in the order taken, so acknowledgements leave in append order whatever order commits finish in.
        _sharedWrites.Writer.TryWrite(write);
    }

    private async Task CompleteSharedWritesAsync()
    {
        await foreach (SharedWrite write in _sharedWrites.Reader.ReadAllAsync())
        {
            WriteResult? result = null;
            Exception? failure = null;
            try
            {
                try
                {
                    result = await write.Write!;
                }
                catch (SchemaLimitException)
                {
                    // Before the next shared write starts, so the messages keep their order in the store.
                    result = await WriteMessagesAloneAsync(write);
                }
            }
            catch (Exception error)
            {
                failure = error;
            }

            SharedWrite? next = null;
            TaskCompletionSource? room = null;
            lock (_shared)
            {
                _writesInFlight--;
                if (_open is { Messages: > 0 })
                {
                    next = TakeOpen();
                }

                if (_open is null || _open.Batch.Count < MaxOpenPoints)
                {
                    room = _roomForMore;
                    _roomForMore = null;
                }
            }

            if (next is not null)
            {
                StartWrite(next);
            }

            room?.TrySetResult();
            await ReportAsync(write, result, failure);
            MarkStored(write.Sequence);
            write.Reset();
            _sharedPool.Push(write);
            SignalIfDrained();
        }
    }

    /// <summary>
    /// A shared write refused whole by a per-write schema limit (too many new measurements, columns or series). The
    /// limits are meant per message, the unit a device sends, not per the many messages that happen to share a write;
    /// so each message is written as a request of its own, and only one that passes a limit by itself is refused (its
    /// points become line errors under its ordinal, as any refusal by the store). Rare: the common shared write brings
    /// nothing new.
    /// </summary>
    private async Task<WriteResult> WriteMessagesAloneAsync(SharedWrite write)
    {
        var batches = new PointBatch[write.Messages];
        var writes = new Task<WriteResult>[write.Messages];
        var rejected = new List<LineError>();
        int written = 0;
        try
        {
            for (int i = 0; i < batches.Length; i++)
            {
                batches[i] = RentBatch();
            }

            // A message's points carry its ordinal (from 1) as their line number.
            for (int p = 0; p < write.Batch.Count; p++)
            {
                batches[write.Batch[p].LineNumber - 1].AppendPoint(write.Batch, p);
            }

            for (int i = 0; i < batches.Length; i++)
            {
                writes[i] = _writer.WriteAsync(_namespace, batches[i], CancellationToken.None);
            }

            for (int i = 0; i < batches.Length; i++)
            {
                try
                {
                    WriteResult result = await writes[i];
                    written += result.PointsWritten;
                    rejected.AddRange(result.Rejected);
                }
                catch (SchemaLimitException refusal)
                {
                    for (int p = 0; p < batches[i].Count; p++)
                    {
                        rejected.Add(new LineError(i + 1, string.Empty, refusal.Message));
                    }
                }
            }
        }
        finally
        {
            // Every write handed over completes before its batch goes back to the pool.
            foreach (Task<WriteResult>? pending in writes)
            {
                if (pending is not null)
                {
                    await ((Task)pending).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }
            }

            foreach (PointBatch? batch in batches)
            {
                if (batch is not null)
                {
                    ReturnBatch(batch);
                }
            }
        }

        return new WriteResult(written, rejected);
    }

    /// <summary>
    /// Completes once the shared write <paramref name="sequence"/> (from <see cref="Commit"/>) and every earlier one
    /// are committed or failed: a connection's message that takes another path waits for it, so that its own
    /// acknowledgement cannot overtake the commit of an earlier QoS 0 message of the same connection.
    /// </summary>
    internal Task WhenStoredAsync(long sequence)
    {
        if (Volatile.Read(ref _storedSequence) >= sequence)
        {
            return Task.CompletedTask;
        }

        lock (_shared)
        {
            if (_storedSequence >= sequence)
            {
                return Task.CompletedTask;
            }

            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _storedWaiters.Add((sequence, done));
            return done.Task;
        }
    }

    private void MarkStored(long sequence)
    {
        List<TaskCompletionSource>? ready = null;
        lock (_shared)
        {
            Volatile.Write(ref _storedSequence, sequence);
            for (int i = _storedWaiters.Count - 1; i >= 0; i--)
            {
                if (_storedWaiters[i].Sequence <= sequence)
                {
                    (ready ??= []).Add(_storedWaiters[i].Done);
                    _storedWaiters.RemoveAt(i);
                }
            }
        }

        ready?.ForEach(done => done.TrySetResult());
    }

    private async Task ReportAsync(SharedWrite write, WriteResult? result, Exception? failure)
    {
        if (failure is not null)
        {
            SharedLog.Failed(_logger, failure, write.Messages);
            foreach (ref readonly IngestMessage message in write.MessageSpan)
            {
                message.Acknowledger?.Fail(failure);
            }

            return;
        }

        Dictionary<int, (int Refused, string Reason)>? refused = null;
        if (result!.Rejected.Count > 0)
        {
            refused = [];
            foreach (LineError rejected in result.Rejected)
            {
                refused[rejected.Line] = refused.TryGetValue(rejected.Line, out var seen) ? (seen.Refused + 1, seen.Reason) : (1, rejected.Reason);
            }
        }

        if (refused is null)
        {
            foreach (ref readonly IngestMessage message in write.MessageSpan)
            {
                message.Acknowledger?.Acknowledge(message.PacketId, new DeviceIngestOutcome(DeviceIngestStatus.Stored, message.Points, 0, null));
            }

            return;
        }

        // Rare: the store refused points. Dead letters are written before any acknowledgement of this write goes
        // out, as on the ordinary path (a publisher that has its PUBACK can query its dead letter).
        var outcomes = new DeviceIngestOutcome[write.Messages];
        List<Task>? deadLetters = null;
        for (int i = 0; i < outcomes.Length; i++)
        {
            IngestMessage message = write.MessageSpan[i];
            var outcome = new DeviceIngestOutcome(DeviceIngestStatus.Stored, message.Points, 0, null);
            if (refused.TryGetValue(i + 1, out var refusal))
            {
                string reason = refusal.Refused == 1 ? refusal.Reason : $"{refusal.Refused} points refused; first: {refusal.Reason}";
                int written = message.Points - refusal.Refused;
                outcome = new DeviceIngestOutcome(written == 0 ? DeviceIngestStatus.Rejected : DeviceIngestStatus.PartlyStored, written, refusal.Refused, reason);
                string topicName = message.Topic.Name();
                if (message.Acknowledger is null)
                {
                    QueuedLog.Refused(_logger, written, refusal.Refused, message.Topic.DeviceId, topicName, reason);
                }
                else
                {
                    SharedLog.Refused(_logger, written, refusal.Refused, message.Topic.DeviceId, topicName, reason);
                    if (written == 0)
                    {
                        var payload = new ReadOnlySequence<byte>(write.PayloadOf(message).ToArray());
                        (deadLetters ??= []).Add(RecordDeadLetterAsync(message.Topic, topicName, payload, contentType: null, reason));
                    }
                }
            }

            outcomes[i] = outcome;
        }

        if (deadLetters is not null)
        {
            await Task.WhenAll(deadLetters);
        }

        for (int i = 0; i < outcomes.Length; i++)
        {
            IngestMessage message = write.MessageSpan[i];
            message.Acknowledger?.Acknowledge(message.PacketId, outcomes[i]);
        }
    }

    /// <summary>Messages in the shared batch or in its writes, not yet reported.</summary>
    private bool SharedIdle()
    {
        lock (_shared)
        {
            return _writesInFlight == 0 && _open is not { Messages: > 0 };
        }
    }

    private void SignalIfDrained()
    {
        if (Volatile.Read(ref _draining) != 0 && Volatile.Read(ref _queued) == 0 && SharedIdle())
        {
            _queueDrained.TrySetResult();
        }
    }

    private static partial class SharedLog
    {
        [LoggerMessage(42, LogLevel.Error, "MQTT messages could not be stored ({Messages} messages; QoS 1 publishers are disconnected unacknowledged and resend)")]
        public static partial void Failed(ILogger logger, Exception error, int messages);

        [LoggerMessage(43, LogLevel.Warning, "MQTT message refused by the store ({Written} points stored, {Refused} refused): device {DeviceId}, topic {Topic}: {Reason}")]
        public static partial void Refused(ILogger logger, int written, int refused, string deviceId, string topic, string reason);
    }

    /// <summary>
    /// Decoded messages in one <see cref="PointBatch"/>, each message's points numbered by its ordinal, and the
    /// payloads of those that wait for a PUBACK (for a dead letter should the store refuse them). A connection's
    /// staging is one; a shared write is one that staging is moved into. Reused, so a warm broker allocates none.
    /// </summary>
    internal class IngestStaging
    {
        private IngestMessage[] _messages;
        private readonly ArrayBufferWriter<byte> _payloads;

        public IngestStaging()
            : this(pointCapacity: 48)
        {
        }

        protected IngestStaging(int pointCapacity)
        {
            _messages = new IngestMessage[pointCapacity];
            _payloads = new ArrayBufferWriter<byte>(Math.Max(1024, pointCapacity * 2));
            Batch = new PointBatch(pointCapacity, fieldsPerPoint: 16, textBytesPerPoint: 160, tagsPerPoint: 2);
        }

        public PointBatch Batch { get; }

        public int Messages { get; private set; }

        public ReadOnlySpan<IngestMessage> MessageSpan => _messages.AsSpan(0, Messages);

        public ReadOnlySpan<byte> PayloadOf(in IngestMessage message) => _payloads.WrittenSpan.Slice(message.PayloadStart, message.PayloadLength);

        /// <summary>Records the message whose points were just decoded into <see cref="Batch"/> from <paramref name="firstPoint"/> on.</summary>
        public void Add(DeviceTopic topic, IIngestAcknowledger? acknowledger, ushort packetId, ReadOnlySpan<byte> payload, int firstPoint)
        {
            Batch.Renumber(firstPoint, Messages + 1);
            Record(new IngestMessage(topic, acknowledger, packetId, Batch.Count - firstPoint, 0, 0), acknowledger is null ? default : payload);
        }

        /// <summary>Appends every message of <paramref name="staged"/>; their points keep their ordinals, shifted past these messages.</summary>
        public void AddAll(IngestStaging staged)
        {
            Batch.AppendFrom(staged.Batch, lineOffset: Messages);
            foreach (IngestMessage message in staged.MessageSpan)
            {
                Record(message, staged.PayloadOf(message));
            }
        }

        public virtual void Reset()
        {
            Array.Clear(_messages, 0, Messages);
            Messages = 0;
            Batch.Reset();
            _payloads.ResetWrittenCount();
        }

        private void Record(IngestMessage message, ReadOnlySpan<byte> payload)
        {
            if (Messages == _messages.Length)
            {
                Array.Resize(ref _messages, _messages.Length * 2);
            }

            int payloadStart = _payloads.WrittenCount;
            _payloads.Write(payload);
            _messages[Messages++] = message with { PayloadStart = payloadStart, PayloadLength = payload.Length };
        }
    }

    internal readonly record struct IngestMessage(DeviceTopic Topic, IIngestAcknowledger? Acknowledger, ushort PacketId, int Points, int PayloadStart, int PayloadLength);

    /// <summary>One shared batch on its way to the store; pooled.</summary>
    private sealed class SharedWrite()
        // Room for MaxOpenPoints, plus what a hundred connections commit before they see the wait.
        : IngestStaging(MaxOpenPoints + OpenBatchSlack)
    {
        public Task<WriteResult>? Write { get; set; }

        /// <summary>Shared writes are numbered in the order they are taken (and reported).</summary>
        public long Sequence { get; set; }

        public override void Reset()
        {
            base.Reset();
            Write = null;
        }
    }
}
