using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace Plexus.PgWire.Tests;

/// <summary>A PostgreSQL client at the byte level, for what real drivers never send: bad framing, wrong order, huge messages.</summary>
internal sealed class RawPgClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;

    private RawPgClient(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    public static async Task<RawPgClient> ConnectAsync(int port)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", port);
        return new RawPgClient(tcp);
    }

    /// <summary>Connects, starts up and authenticates; returns the client ready for queries.</summary>
    public static async Task<RawPgClient> LogInAsync(int port, string token)
    {
        var client = await ConnectAsync(port);
        await client.SendStartupAsync();
        var (type, _) = await client.ReadAsync();
        Assert.Equal((byte)'R', type);
        await client.SendAsync('p', CString(token));
        while ((await client.ReadAsync()).Type != (byte)'Z')
        {
        }

        return client;
    }

    public async Task SendStartupAsync(string user = "raw", string database = "main")
    {
        var body = new List<byte>();
        body.AddRange(Int32(196608));
        body.AddRange(CString("user"));
        body.AddRange(CString(user));
        body.AddRange(CString("database"));
        body.AddRange(CString(database));
        body.Add(0);
        await SendRawAsync([.. Int32(body.Count + 4), .. body]);
    }

    public async Task SendAsync(char type, params byte[][] parts)
    {
        byte[] body = [.. parts.SelectMany(part => part)];
        await SendRawAsync([(byte)type, .. Int32(body.Length + 4), .. body]);
    }

    public async Task SendRawAsync(byte[] bytes)
    {
        await _stream.WriteAsync(bytes);
        await _stream.FlushAsync();
    }

    /// <summary>The next message; type 0 when the server closed the connection.</summary>
    public async Task<(byte Type, byte[] Body)> ReadAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        byte[] header = new byte[5];
        if (!await ReadExactlyAsync(header, timeout.Token))
        {
            return (0, []);
        }

        byte[] body = new byte[BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(1)) - 4];
        return await ReadExactlyAsync(body, timeout.Token) ? (header[0], body) : ((byte)0, []);
    }

    /// <summary>One byte: the server's answer to SSLRequest or GSSENCRequest.</summary>
    public async Task<byte> ReadByteAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        byte[] one = new byte[1];
        await _stream.ReadExactlyAsync(one, timeout.Token);
        return one[0];
    }

    /// <summary>Reads messages up to and including one of <paramref name="type"/>; returns them all.</summary>
    public async Task<List<(byte Type, byte[] Body)>> ReadUntilAsync(char type)
    {
        var messages = new List<(byte Type, byte[] Body)>();
        while (true)
        {
            var message = await ReadAsync();
            messages.Add(message);
            if (message.Type == (byte)type || message.Type == 0)
            {
                return messages;
            }
        }
    }

    /// <summary>The SQLSTATE of an ErrorResponse body.</summary>
    public static string SqlState(byte[] errorBody) => Field(errorBody, 'C');

    public static string Field(byte[] errorBody, char field)
    {
        int i = 0;
        while (i < errorBody.Length && errorBody[i] != 0)
        {
            int end = Array.IndexOf(errorBody, (byte)0, i + 1);
            if (errorBody[i] == (byte)field)
            {
                return Encoding.UTF8.GetString(errorBody, i + 1, end - i - 1);
            }

            i = end + 1;
        }

        return "";
    }

    /// <summary>True when the server closed the connection (a read returns nothing).</summary>
    public async Task<bool> IsClosedAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            byte[] one = new byte[1];
            while (true)
            {
                int read = await _stream.ReadAsync(one, timeout.Token);
                if (read == 0)
                {
                    return true;
                }
            }
        }
        catch (IOException)
        {
            return true;
        }
    }

    public static byte[] CString(string value) => [.. Encoding.UTF8.GetBytes(value), 0];

    public static byte[] Int32(int value)
    {
        byte[] bytes = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(bytes, value);
        return bytes;
    }

    public static byte[] Int16(short value)
    {
        byte[] bytes = new byte[2];
        BinaryPrimitives.WriteInt16BigEndian(bytes, value);
        return bytes;
    }

    public ValueTask DisposeAsync()
    {
        _tcp.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task<bool> ReadExactlyAsync(byte[] buffer, CancellationToken cancellationToken)
    {
        try
        {
            await _stream.ReadExactlyAsync(buffer, cancellationToken);
            return true;
        }
        catch (Exception closed) when (closed is EndOfStreamException or IOException)
        {
            return false;
        }
    }
}
