using Microsoft.Extensions.Logging;
using MQTTnet;

namespace Plexus.Broker.Retained;

/// <summary>The limits on retained messages (docs/mqtt.md, retained messages).</summary>
public readonly record struct RetainedLimits(int MaxMessages, long MaxBytes, int MaxMessagesPerClient, long MaxBytesPerClient);

public enum RetainedChangeStatus
{
    /// <summary>Stored (or removed) and synced to the journal.</summary>
    Saved,

    /// <summary>Refused: it would take a limit over; nothing changed.</summary>
    OverLimit,

    /// <summary>The journal could not be written; nothing changed.</summary>
    SaveFailed,
}

public readonly record struct RetainedChange(RetainedChangeStatus Status, string? Reason = null, Exception? Error = null);

/// <summary>
/// The broker's retained messages as kept on disk, and their limits: count and bytes in total and per client (the
/// identity that published a message last owns it). A change is checked, journaled and synced before it is
/// acknowledged; one that would take a count or size over its limit is refused. Sizes are journal record sizes.
/// </summary>
/// <remarks>
/// MQTTnet keeps its own copy of the retained set in memory to serve new subscribers and updates it after the publish
/// interceptor, which calls <see cref="Apply"/>; this store holds references to the same message objects, not copies.
/// </remarks>
public sealed class RetainedMessageStore : IDisposable
{
    private readonly RetainedMessageJournal _journal;
    private readonly RetainedLimits _limits;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, RetainedEntry> _messages = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (int Count, long Bytes)> _perOwner = new(StringComparer.Ordinal);
    private long _bytes;

    public RetainedMessageStore(string dataDirectory, RetainedLimits limits, ILogger logger)
    {
        _journal = new RetainedMessageJournal(dataDirectory, logger);
        _limits = limits;
        _logger = logger;
    }

    public string Path => _journal.Path;

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _messages.Count;
            }
        }
    }

    public long Bytes
    {
        get
        {
            lock (_lock)
            {
                return _bytes;
            }
        }
    }

    /// <summary>Journal bytes on disk (live records plus replaced ones not yet compacted away).</summary>
    public long JournalBytes
    {
        get
        {
            lock (_lock)
            {
                return _journal.Length;
            }
        }
    }

    /// <summary>Loads the journal (migrating the old JSON file) and returns the messages for MQTTnet.</summary>
    /// <exception cref="InvalidDataException">The journal is damaged.</exception>
    public List<MqttApplicationMessage> Load()
    {
        lock (_lock)
        {
            foreach (var entry in _journal.Open())
            {
                Add(entry);
            }

            if (_messages.Count > _limits.MaxMessages || _bytes > _limits.MaxBytes)
            {
                RetainedLog.OverLimitAtLoad(_logger, _messages.Count, _bytes, _limits.MaxMessages, _limits.MaxBytes);
            }

            return [.. _messages.Values.Select(e => e.Message)];
        }
    }

    /// <summary>
    /// Checks and saves one retained publish by <paramref name="owner"/>: an empty payload removes the topic's message.
    /// Synced to disk when it returns <see cref="RetainedChangeStatus.Saved"/>.
    /// </summary>
    public RetainedChange Apply(MqttApplicationMessage message, string owner)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(owner);
        lock (_lock)
        {
            _messages.TryGetValue(message.Topic, out var existing);
            try
            {
                if (message.Payload.IsEmpty)
                {
                    if (existing is not null)
                    {
                        _journal.AppendRemove(message.Topic);
                        Remove(existing);
                    }

                    return new RetainedChange(RetainedChangeStatus.Saved);
                }

                var entry = RetainedMessageJournal.Entry(message, owner);
                if (OverLimit(entry, existing) is { } reason)
                {
                    return new RetainedChange(RetainedChangeStatus.OverLimit, reason);
                }

                _journal.AppendSet(entry);
                if (existing is not null)
                {
                    Remove(existing);
                }

                Add(entry);
            }
            catch (Exception error) when (error is IOException or UnauthorizedAccessException or OverflowException)
            {
                return new RetainedChange(RetainedChangeStatus.SaveFailed, "the retained message could not be saved: " + error.Message, error);
            }

            CompactIfDue();
            return new RetainedChange(RetainedChangeStatus.Saved);
        }
    }

    /// <summary>Every retained message removed (MQTTnet's clear).</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _journal.AppendClear();
            _messages.Clear();
            _perOwner.Clear();
            _bytes = 0;
            CompactIfDue();
        }
    }

    public void Dispose() => _journal.Dispose();

    private string? OverLimit(RetainedEntry entry, RetainedEntry? existing)
    {
        int count = _messages.Count + (existing is null ? 1 : 0);
        long bytes = _bytes + entry.RecordBytes - (existing?.RecordBytes ?? 0);
        var (ownerCount, ownerBytes) = _perOwner.GetValueOrDefault(entry.Owner);
        bool sameOwner = existing is not null && existing.Owner == entry.Owner;
        int newOwnerCount = ownerCount + (sameOwner ? 0 : 1);
        long newOwnerBytes = ownerBytes + entry.RecordBytes - (sameOwner ? existing!.RecordBytes : 0);

        // Only growth is refused: a message that replaces a larger one is taken even above a lowered limit.
        if (count > _limits.MaxMessages && count > _messages.Count)
        {
            return $"the broker keeps at most {_limits.MaxMessages} retained messages (--mqtt-max-retained-messages) and has {_messages.Count}";
        }

        if (bytes > _limits.MaxBytes && bytes > _bytes)
        {
            return $"the retained messages would take {bytes} bytes, the limit is {_limits.MaxBytes} (--mqtt-max-retained-bytes)";
        }

        if (newOwnerCount > _limits.MaxMessagesPerClient && newOwnerCount > ownerCount)
        {
            return $"this client holds {ownerCount} retained messages, the limit per client is {_limits.MaxMessagesPerClient} (--mqtt-max-retained-messages-per-client)";
        }

        if (newOwnerBytes > _limits.MaxBytesPerClient && newOwnerBytes > ownerBytes)
        {
            return $"this client's retained messages would take {newOwnerBytes} bytes, the limit per client is {_limits.MaxBytesPerClient} (--mqtt-max-retained-bytes-per-client)";
        }

        return null;
    }

    private void Add(RetainedEntry entry)
    {
        _messages[entry.Message.Topic] = entry;
        _bytes += entry.RecordBytes;
        var (count, bytes) = _perOwner.GetValueOrDefault(entry.Owner);
        _perOwner[entry.Owner] = (count + 1, bytes + entry.RecordBytes);
    }

    private void Remove(RetainedEntry entry)
    {
        _messages.Remove(entry.Message.Topic);
        _bytes -= entry.RecordBytes;
        var (count, bytes) = _perOwner[entry.Owner];
        if (count == 1)
        {
            _perOwner.Remove(entry.Owner);
        }
        else
        {
            _perOwner[entry.Owner] = (count - 1, bytes - entry.RecordBytes);
        }
    }

    private void CompactIfDue()
    {
        if (!_journal.ShouldCompact(_bytes))
        {
            return;
        }

        try
        {
            _journal.Compact(_messages.Values);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            // The old journal is intact (the new one is only renamed over it once synced): appends go on there.
            RetainedLog.CompactionFailed(_logger, error, _journal.Path);
        }
    }
}
