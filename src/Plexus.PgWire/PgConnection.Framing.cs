using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using Plexus.PgWire.Protocol;

namespace Plexus.PgWire;

/// <summary>Reading and writing the protocol's messages.</summary>
internal sealed partial class PgConnection
{
    private async Task<byte[]> ReadStartupPacketAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var read = await _input.ReadAsync(cancellationToken);
            var buffer = read.Buffer;
            if (buffer.Length >= 4)
            {
                buffer.Slice(0, 4).CopyTo(_header);
                int length = BinaryPrimitives.ReadInt32BigEndian(_header);
                if (length < 8 || length > MaxStartupPacket)
                {
                    throw new PgProtocolException($"invalid startup packet length {length} (PostgreSQL's limit is {MaxStartupPacket} bytes)");
                }

                if (buffer.Length >= length)
                {
                    byte[] packet = buffer.Slice(4, length - 4).ToArray();
                    _input.AdvanceTo(buffer.GetPosition(length));
                    return packet;
                }
            }

            if (read.IsCompleted)
            {
                throw new EndOfStreamException();
            }

            _input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private async Task<(byte Type, byte[] Payload)> ReadMessageAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var read = await _input.ReadAsync(cancellationToken);
            var buffer = read.Buffer;
            if (buffer.Length >= 5)
            {
                buffer.Slice(0, 5).CopyTo(_header);
                byte type = _header[0];
                int length = BinaryPrimitives.ReadInt32BigEndian(_header.AsSpan(1));
                if (length < 4)
                {
                    throw new PgProtocolException($"invalid message length {length} in a '{(char)type}' message");
                }

                if (length - 4 > Options.MaxMessageSize)
                {
                    throw new PgProtocolException($"a '{(char)type}' message of {length - 4} bytes is larger than the {Options.MaxMessageSize} bytes a message may have (--pg-max-message-size)", PgErrorCodes.ProgramLimitExceeded);
                }

                if (buffer.Length >= 1 + length)
                {
                    byte[] payload = buffer.Slice(5, length - 4).ToArray();
                    _input.AdvanceTo(buffer.GetPosition(1 + length));
                    return (type, payload);
                }
            }

            if (read.IsCompleted)
            {
                throw new EndOfStreamException();
            }

            _input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private async Task WriteRawAsync(byte value, CancellationToken cancellationToken)
    {
        _out.WriteByte(value);
        await FlushAsync(cancellationToken);
    }

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (_out.Length == 0)
        {
            return;
        }

        await _stream.WriteAsync(_out.Memory, cancellationToken);
        await _stream.FlushAsync(cancellationToken);
        _out.Clear();
    }

    private void WriteReadyForQuery()
    {
        _out.StartMessage((byte)'Z');
        _out.WriteByte(_failedTransaction ? (byte)'E' : _inTransaction ? (byte)'T' : (byte)'I');
        _out.EndMessage();
    }

    private void WriteParameterStatus(string name, string value)
    {
        _out.StartMessage((byte)'S');
        _out.WriteCString(name);
        _out.WriteCString(value);
        _out.EndMessage();
    }

    private void WriteNoData()
    {
        _out.StartMessage((byte)'n');
        _out.EndMessage();
    }

    private void WriteCommandComplete(string tag)
    {
        _out.StartMessage((byte)'C');
        _out.WriteCString(tag);
        _out.EndMessage();
    }

    private void WriteRowDescription(IReadOnlyList<PgColumn> columns, IReadOnlyList<short> formats)
    {
        _out.StartMessage((byte)'T');
        _out.WriteInt16((short)columns.Count);
        for (int i = 0; i < columns.Count; i++)
        {
            var column = columns[i];
            _out.WriteCString(column.Name);
            _out.WriteInt32(0);
            _out.WriteInt16(0);
            _out.WriteInt32(column.Oid);
            _out.WriteInt16(column.Size);
            _out.WriteInt32(-1);
            _out.WriteInt16(PgAnswerFormat.FormatOf(formats, i));
        }

        _out.EndMessage();
    }

    private void WriteTextRow(string?[] values)
    {
        _out.StartMessage((byte)'D');
        _out.WriteInt16((short)values.Length);
        foreach (string? value in values)
        {
            if (value is null)
            {
                _out.WriteInt32(-1);
                continue;
            }

            int at = _out.StartLength();
            _out.WriteUtf8(value);
            _out.EndLength(at);
        }

        _out.EndMessage();
    }

    private void WriteError(PgException error, string severity = "ERROR")
    {
        _out.StartMessage((byte)'E');
        WriteField('S', severity);
        WriteField('V', severity);
        WriteField('C', error.Code);
        WriteField('M', error.Message);
        if (error.Position > 0)
        {
            WriteField('P', error.Position.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        if (error.Hint is not null)
        {
            WriteField('H', error.Hint);
        }

        _out.WriteByte(0);
        _out.EndMessage();

        void WriteField(char field, string value)
        {
            _out.WriteByte((byte)field);
            _out.WriteCString(value);
        }
    }

    private async Task WriteFatalAsync(string code, string message)
    {
        WriteError(new PgException(code, message), "FATAL");
        await FlushAsync(_closing);
    }

    private async Task TryWriteFatalAsync(string code, string message)
    {
        try
        {
            _out.Clear();
            WriteError(new PgException(code, message), "FATAL");
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1), _server.Time);
            await _stream.WriteAsync(_out.Memory, timeout.Token);
            _out.Clear();
        }
        catch (Exception gone) when (gone is IOException or OperationCanceledException or ObjectDisposedException or SocketException or InvalidOperationException)
        {
            // The client is gone or does not read: the connection closes anyway.
        }
    }
}
