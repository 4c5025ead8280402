using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Microsoft.Extensions.Logging;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using Plexus.Broker.Auth;
using Plexus.Broker.Retained;
using Plexus.Core;

namespace Plexus.Broker.Sessions;

/// <summary>One subscription of a persisted session, with its MQTT 5 options.</summary>
internal sealed record PersistedSubscription(string Filter, MqttQualityOfServiceLevel QualityOfService, bool NoLocal, bool RetainAsPublished, MqttRetainHandling RetainHandling, uint Identifier);

/// <summary>A queued QoS 1/2 message of a persisted session; <see cref="ExpiresAt"/> is null for a message without an expiry interval.</summary>
internal sealed record PersistedMessage(MqttPublishPacket Packet, DateTimeOffset? ExpiresAt);

/// <summary>
/// A session as it is kept across a restart: its client id, the principal that owns it, its expiry (the interval and
/// when its client left; a session whose client was connected at the snapshot left then), its subscriptions and its
/// queued undelivered QoS 1/2 messages, oldest first.
/// </summary>
internal sealed record PersistedSession(
    string ClientId,
    MqttPrincipal Owner,
    uint ExpiryInterval,
    DateTimeOffset LeftAt,
    IReadOnlyList<PersistedSubscription> Subscriptions,
    IReadOnlyList<PersistedMessage> Messages)
{
    /// <summary>Whether the session is over at <paramref name="now"/>: its client has been away longer than its interval.</summary>
    public bool ExpiredAt(DateTimeOffset now) => now - LeftAt >= TimeSpan.FromSeconds(ExpiryInterval);
}

/// <summary>
/// The persistent MQTT sessions on disk (<see cref="FileName"/> in the data folder): a snapshot of every persistent
/// session, written whole (a temporary file, synced, renamed over the old one, the folder synced), so a crash leaves
/// the previous snapshot or the new one, never a mix.
/// </summary>
/// <remarks>
/// Format (little-endian):
/// <code>
///   file     ┌────────┬──────────┬──────────┐
///            │ "PXSS" │ version  │ reserved │  8 bytes; version 1
///            └────────┴──────────┴──────────┘
///   record   ┌──────────────┬──────────────┬──────┐
///            │ body length  │ CRC-32(body) │ body │  u32, u32, then the body
///            └──────────────┴──────────────┴──────┘
///   session  1 │ client id │ owner │ expiry interval u32 │ left at i64 (Unix ms) │ u16 count │ subscriptions
///            subscription: filter │ QoS u8 │ options u8 (1 no-local, 2 retain-as-published, retain handling &lt;&lt; 2)
///                          │ subscription identifier u32
///            owner: kind u8 (0 application, 1 device) │ device id or token name │ scope u8 │ namespaces: u16 count,
///                   0xFFFF for all │ topic rules: u8 present, then subscribe, publish, deny subscribe, deny publish,
///                   each u16 count and filters
///   message  2 │ QoS u8 │ flags u8 │ payload format u8 │ expires at i64 (Unix ms, 0 none) │ expiry interval u32
///            │ [content type] [response topic] [correlation data] [user properties: u16 count, (name, value)…]
///            │ u16 count, subscription identifiers u32… │ topic │ payload
///            flags: 1 retain, 2 content type, 4 response topic, 8 correlation data, 16 user properties
///   text: u16 length + UTF-8; bytes: u32 length + bytes
/// </code>
/// A session's messages follow its record. Reading stops at the first record that runs past the end, fails its
/// checksum or cannot be read, with one warning: what came before it is restored (a session whose messages were cut
/// off keeps those before the damage); nothing stops the start.
/// </remarks>
internal sealed class MqttSessionFile
{
    public const string FileName = "mqtt-sessions.dat";
    public const int HeaderSize = 8;
    private const int RecordHeaderSize = 8;
    private const ushort FormatVersion = 1;
    private const byte SessionKind = 1;
    private const byte MessageKind = 2;
    private const ushort AllNamespaces = ushort.MaxValue;
    private static ReadOnlySpan<byte> Magic => "PXSS"u8;

    private readonly ILogger _logger;

    public MqttSessionFile(string dataDirectory, ILogger logger)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataDirectory);
        Path = System.IO.Path.Combine(dataDirectory, FileName);
        _logger = logger;
    }

    public string Path { get; }

    /// <summary>
    /// Encodes <paramref name="sessions"/> within <paramref name="maxBytes"/>: sessions (with their subscriptions) in the
    /// order given, each followed by as many of its messages, oldest first, as fit. Returns the bytes and how many
    /// sessions and messages did not fit.
    /// </summary>
    public static (byte[] Contents, int SessionsLeftOut, int MessagesLeftOut) Encode(IEnumerable<PersistedSession> sessions, long maxBytes)
    {
        var output = new ArrayBufferWriter<byte>(4096);
        Span<byte> header = stackalloc byte[HeaderSize];
        header.Clear();
        Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], FormatVersion);
        output.Write(header);
        int sessionsLeftOut = 0, messagesLeftOut = 0;
        var body = new BodyWriter();
        foreach (var session in sessions)
        {
            body.Reset();
            WriteSession(body, session);
            if (output.WrittenCount + RecordHeaderSize + body.Length > maxBytes)
            {
                sessionsLeftOut++;
                continue;
            }

            Append(output, body);
            for (int i = 0; i < session.Messages.Count; i++)
            {
                body.Reset();
                WriteMessage(body, session.Messages[i]);
                if (output.WrittenCount + RecordHeaderSize + body.Length > maxBytes)
                {
                    messagesLeftOut += session.Messages.Count - i;
                    break;
                }

                Append(output, body);
            }
        }

        return (output.WrittenSpan.ToArray(), sessionsLeftOut, messagesLeftOut);
    }

    /// <summary>Replaces the file with <paramref name="contents"/> (from <see cref="Encode"/>), durably.</summary>
    public void Write(ReadOnlySpan<byte> contents) => DurableFile.Replace(Path, contents);

    /// <summary>Reads the sessions in the file; none when there is no file. Damage is logged once and ends the reading, never the start.</summary>
    public List<PersistedSession> Read()
    {
        var sessions = new List<PersistedSession>();
        if (!File.Exists(Path))
        {
            return sessions;
        }

        byte[] bytes = File.ReadAllBytes(Path);
        if (bytes.Length < HeaderSize || !bytes.AsSpan(0, 4).SequenceEqual(Magic) || BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(4)) != FormatVersion
            || BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(6)) != 0)
        {
            SessionLog.FileDamaged(_logger, Path, 0, "it does not start with the session-file header of version " + FormatVersion);
            return sessions;
        }

        long offset = HeaderSize;
        List<PersistedMessage>? messages = null;
        while (offset < bytes.Length)
        {
            long remaining = bytes.Length - offset;
            uint bodyLength = remaining >= RecordHeaderSize ? BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan((int)offset)) : 0;
            if (remaining < RecordHeaderSize || bodyLength == 0 || bodyLength > remaining - RecordHeaderSize)
            {
                SessionLog.FileDamaged(_logger, Path, offset, "a record runs past the end of the file");
                break;
            }

            var body = bytes.AsSpan((int)offset + RecordHeaderSize, (int)bodyLength);
            if (System.IO.Hashing.Crc32.HashToUInt32(body) != BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan((int)offset + 4)))
            {
                SessionLog.FileDamaged(_logger, Path, offset, "a record's checksum does not match");
                break;
            }

            try
            {
                int position = 1;
                if (body[0] == SessionKind)
                {
                    var session = ReadSession(body, ref position);
                    messages = [];
                    sessions.Add(session with { Messages = messages });
                }
                else if (body[0] == MessageKind && messages is not null)
                {
                    messages.Add(ReadMessage(body, ref position));
                }
                else
                {
                    throw new InvalidDataException(body[0] == MessageKind ? "a message before any session" : $"unknown record kind {body[0]}");
                }

                if (position != body.Length)
                {
                    throw new InvalidDataException($"{body.Length - position} bytes after the record's fields");
                }
            }
            catch (Exception error) when (error is ArgumentOutOfRangeException or IndexOutOfRangeException or DecoderFallbackException or InvalidDataException or OverflowException)
            {
                SessionLog.FileDamaged(_logger, Path, offset, "a record cannot be read: " + error.Message);
                break;
            }

            offset += RecordHeaderSize + bodyLength;
        }

        return sessions;
    }

    private static void Append(ArrayBufferWriter<byte> output, BodyWriter body)
    {
        var record = output.GetSpan(RecordHeaderSize + body.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(record, (uint)body.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(record[4..], System.IO.Hashing.Crc32.HashToUInt32(body.Written));
        body.Written.CopyTo(record[RecordHeaderSize..]);
        output.Advance(RecordHeaderSize + body.Length);
    }

    private static void WriteSession(BodyWriter body, PersistedSession session)
    {
        body.Byte(SessionKind);
        body.Text(session.ClientId);
        var owner = session.Owner;
        body.Byte(owner.Kind == MqttPrincipalKind.Device ? (byte)1 : (byte)0);
        body.Text(owner.Kind == MqttPrincipalKind.Device ? owner.DeviceId! : owner.TokenName!);
        body.Byte((byte)owner.Scope);
        if (owner.Namespaces is null)
        {
            body.UInt16(AllNamespaces);
        }
        else
        {
            body.Texts(owner.Namespaces);
        }

        body.Byte(owner.TopicRules is null ? (byte)0 : (byte)1);
        if (owner.TopicRules is { } rules)
        {
            body.Texts(rules.Subscribe);
            body.Texts(rules.Publish);
            body.Texts(rules.DenySubscribe);
            body.Texts(rules.DenyPublish);
        }

        body.UInt32(session.ExpiryInterval);
        body.Int64(session.LeftAt.ToUnixTimeMilliseconds());
        body.UInt16(checked((ushort)session.Subscriptions.Count));
        foreach (var subscription in session.Subscriptions)
        {
            body.Text(subscription.Filter);
            body.Byte((byte)subscription.QualityOfService);
            body.Byte((byte)((subscription.NoLocal ? 1 : 0) | (subscription.RetainAsPublished ? 2 : 0) | ((int)subscription.RetainHandling << 2)));
            body.UInt32(subscription.Identifier);
        }
    }

    private static PersistedSession ReadSession(ReadOnlySpan<byte> body, ref int position)
    {
        string clientId = RetainedMessageJournal.ReadText(body, ref position);
        byte kind = body[position++];
        string name = RetainedMessageJournal.ReadText(body, ref position);
        byte scope = body[position++];
        IReadOnlyList<string>? namespaces = BinaryPrimitives.ReadUInt16LittleEndian(body[position..]) == AllNamespaces
            ? Skip(ref position, 2)
            : ReadTexts(body, ref position);
        MqttTopicRules? rules = body[position++] == 0
            ? null
            : new MqttTopicRules(ReadTexts(body, ref position), ReadTexts(body, ref position), ReadTexts(body, ref position), ReadTexts(body, ref position));
        if (kind > 1 || scope > (byte)MqttApplicationScope.Admin || string.IsNullOrEmpty(name))
        {
            throw new InvalidDataException($"owner kind {kind}, scope {scope} or an empty name");
        }

        var owner = kind == 1 ? MqttPrincipal.Device(name) : MqttPrincipal.Application(name, (MqttApplicationScope)scope, namespaces, rules);
        uint interval = BinaryPrimitives.ReadUInt32LittleEndian(body[position..]);
        long leftAt = BinaryPrimitives.ReadInt64LittleEndian(body[(position + 4)..]);
        int count = BinaryPrimitives.ReadUInt16LittleEndian(body[(position + 12)..]);
        position += 14;
        var subscriptions = new List<PersistedSubscription>(count);
        for (int i = 0; i < count; i++)
        {
            string filter = RetainedMessageJournal.ReadText(body, ref position);
            byte qos = body[position++];
            byte options = body[position++];
            uint identifier = BinaryPrimitives.ReadUInt32LittleEndian(body[position..]);
            position += 4;
            if (qos > 2 || options >> 2 > 2 || string.IsNullOrEmpty(filter))
            {
                throw new InvalidDataException($"subscription QoS {qos} or options {options} out of range, or an empty filter");
            }

            subscriptions.Add(new PersistedSubscription(filter, (MqttQualityOfServiceLevel)qos, (options & 1) != 0, (options & 2) != 0, (MqttRetainHandling)(options >> 2), identifier));
        }

        return new PersistedSession(clientId, owner, interval, DateTimeOffset.FromUnixTimeMilliseconds(leftAt), subscriptions, []);
    }

    private static void WriteMessage(BodyWriter body, PersistedMessage message)
    {
        var packet = message.Packet;
        body.Byte(MessageKind);
        body.Byte((byte)packet.QualityOfServiceLevel);
        byte flags = (byte)((packet.Retain ? 1 : 0) | (packet.ContentType is not null ? 2 : 0) | (packet.ResponseTopic is not null ? 4 : 0)
            | (packet.CorrelationData is { Length: > 0 } ? 8 : 0) | (packet.UserProperties is { Count: > 0 } ? 16 : 0));
        body.Byte(flags);
        body.Byte((byte)packet.PayloadFormatIndicator);
        body.Int64(message.ExpiresAt?.ToUnixTimeMilliseconds() ?? 0);
        body.UInt32(packet.MessageExpiryInterval);
        if (packet.ContentType is not null)
        {
            body.Text(packet.ContentType);
        }

        if (packet.ResponseTopic is not null)
        {
            body.Text(packet.ResponseTopic);
        }

        if ((flags & 8) != 0)
        {
            body.Bytes(packet.CorrelationData);
        }

        if ((flags & 16) != 0)
        {
            body.UInt16(checked((ushort)packet.UserProperties.Count));
            foreach (var property in packet.UserProperties)
            {
                body.Text(property.Name ?? "");
                body.Bytes(property.ValueBuffer.Span);
            }
        }

        var identifiers = packet.SubscriptionIdentifiers;
        body.UInt16(checked((ushort)(identifiers?.Count ?? 0)));
        if (identifiers is not null)
        {
            foreach (uint identifier in identifiers)
            {
                body.UInt32(identifier);
            }
        }

        body.Text(packet.Topic ?? "");
        body.Bytes(packet.Payload);
    }

    private static PersistedMessage ReadMessage(ReadOnlySpan<byte> body, ref int position)
    {
        byte qos = body[position++];
        byte flags = body[position++];
        byte format = body[position++];
        if (qos is < 1 or > 2 || format > 1 || (flags & ~0x1F) != 0)
        {
            throw new InvalidDataException($"QoS {qos}, payload format {format} or flags {flags} out of range");
        }

        long expiresAt = BinaryPrimitives.ReadInt64LittleEndian(body[position..]);
        var packet = new MqttPublishPacket
        {
            QualityOfServiceLevel = (MqttQualityOfServiceLevel)qos,
            Retain = (flags & 1) != 0,
            PayloadFormatIndicator = (MqttPayloadFormatIndicator)format,
            MessageExpiryInterval = BinaryPrimitives.ReadUInt32LittleEndian(body[(position + 8)..]),
        };
        position += 12;
        if ((flags & 2) != 0)
        {
            packet.ContentType = RetainedMessageJournal.ReadText(body, ref position);
        }

        if ((flags & 4) != 0)
        {
            packet.ResponseTopic = RetainedMessageJournal.ReadText(body, ref position);
        }

        if ((flags & 8) != 0)
        {
            packet.CorrelationData = RetainedMessageJournal.ReadBytes(body, ref position);
        }

        if ((flags & 16) != 0)
        {
            int count = BinaryPrimitives.ReadUInt16LittleEndian(body[position..]);
            position += 2;
            packet.UserProperties = new List<MqttUserProperty>(count);
            for (int i = 0; i < count; i++)
            {
                string name = RetainedMessageJournal.ReadText(body, ref position);
                packet.UserProperties.Add(new MqttUserProperty(name, RetainedMessageJournal.ReadBytes(body, ref position)));
            }
        }

        int identifiers = BinaryPrimitives.ReadUInt16LittleEndian(body[position..]);
        position += 2;
        if (identifiers > 0)
        {
            packet.SubscriptionIdentifiers = new List<uint>(identifiers);
            for (int i = 0; i < identifiers; i++)
            {
                packet.SubscriptionIdentifiers.Add(BinaryPrimitives.ReadUInt32LittleEndian(body[position..]));
                position += 4;
            }
        }

        packet.Topic = RetainedMessageJournal.ReadText(body, ref position);
        if (packet.Topic.Length == 0)
        {
            throw new InvalidDataException("a message without a topic");
        }

        packet.Payload = new ReadOnlySequence<byte>(RetainedMessageJournal.ReadBytes(body, ref position));
        return new PersistedMessage(packet, expiresAt == 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds(expiresAt));
    }

    private static List<string>? Skip(ref int position, int bytes)
    {
        position += bytes;
        return null;
    }

    private static List<string> ReadTexts(ReadOnlySpan<byte> body, ref int position)
    {
        int count = BinaryPrimitives.ReadUInt16LittleEndian(body[position..]);
        position += 2;
        var texts = new List<string>(count);
        for (int i = 0; i < count; i++)
        {
            texts.Add(RetainedMessageJournal.ReadText(body, ref position));
        }

        return texts;
    }

    /// <summary>One record's body, built in a buffer reused from record to record.</summary>
    private sealed class BodyWriter
    {
        private readonly ArrayBufferWriter<byte> _buffer = new(256);

        public int Length => _buffer.WrittenCount;

        public ReadOnlySpan<byte> Written => _buffer.WrittenSpan;

        public void Reset() => _buffer.ResetWrittenCount();

        public void Byte(byte value)
        {
            _buffer.GetSpan(1)[0] = value;
            _buffer.Advance(1);
        }

        public void UInt16(ushort value)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(_buffer.GetSpan(2), value);
            _buffer.Advance(2);
        }

        public void UInt32(uint value)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(_buffer.GetSpan(4), value);
            _buffer.Advance(4);
        }

        public void Int64(long value)
        {
            BinaryPrimitives.WriteInt64LittleEndian(_buffer.GetSpan(8), value);
            _buffer.Advance(8);
        }

        public void Text(string text)
        {
            int length = Encoding.UTF8.GetByteCount(text);
            UInt16(checked((ushort)length));
            Encoding.UTF8.GetBytes(text, _buffer.GetSpan(length));
            _buffer.Advance(length);
        }

        public void Texts(IReadOnlyList<string> texts)
        {
            UInt16(checked((ushort)texts.Count));
            foreach (string text in texts)
            {
                Text(text);
            }
        }

        public void Bytes(ReadOnlySpan<byte> bytes)
        {
            UInt32((uint)bytes.Length);
            _buffer.Write(bytes);
        }

        public void Bytes(ReadOnlySequence<byte> bytes)
        {
            UInt32((uint)bytes.Length);
            foreach (var segment in bytes)
            {
                _buffer.Write(segment.Span);
            }
        }
    }
}
