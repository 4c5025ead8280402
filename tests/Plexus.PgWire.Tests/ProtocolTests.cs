using Npgsql;
using Plexus.TestKit;

namespace Plexus.PgWire.Tests;

/// <summary>
/// The protocol at the byte level: portals that fetch a few rows at a time, and hostile or broken input, which ends
/// only the connection that sent it (its ErrorResponse says why) while other clients go on.
/// </summary>
public sealed class ProtocolTests(PgLab lab) : IClassFixture<PgLab>
{
    [Fact]
    public async Task Execute_with_a_row_limit_suspends_the_portal_and_the_next_execute_goes_on()
    {
        await using var client = await RawPgClient.LogInAsync(lab.Port, lab.ReadToken);
        await client.SendAsync('P', RawPgClient.CString(""), RawPgClient.CString("SELECT range FROM range(5)"), RawPgClient.Int16(0));
        await client.SendAsync('B', RawPgClient.CString(""), RawPgClient.CString(""), RawPgClient.Int16(0), RawPgClient.Int16(0), RawPgClient.Int16(0));
        await client.SendAsync('E', RawPgClient.CString(""), RawPgClient.Int32(2));
        await client.SendAsync('E', RawPgClient.CString(""), RawPgClient.Int32(2));
        await client.SendAsync('E', RawPgClient.CString(""), RawPgClient.Int32(0));
        await client.SendAsync('S');
        var messages = await client.ReadUntilAsync('Z');
        Assert.Equal("12DDsDDsDC" + "Z", new string([.. messages.Select(m => (char)m.Type)]));
        Assert.Equal("SELECT 5\0", System.Text.Encoding.UTF8.GetString(messages[^2].Body));
    }

    [Fact]
    public async Task Malformed_startup_packet_ends_that_connection_only()
    {
        await using var bad = await RawPgClient.ConnectAsync(lab.Port);
        await bad.SendRawAsync([0, 0, 0, 3, 0, 3, 0, 0]);
        var (type, body) = await bad.ReadAsync();
        Assert.Equal((byte)'E', type);
        Assert.Equal("08P01", RawPgClient.SqlState(body));
        Assert.True(await bad.IsClosedAsync());
        await using var good = await lab.OpenAsync();
        Assert.Equal(1, Convert.ToInt32(await new NpgsqlCommand("SELECT 1", good).ExecuteScalarAsync()));
    }

    [Fact]
    public async Task Oversized_message_is_refused_from_its_header_and_ends_the_connection()
    {
        await using var client = await RawPgClient.LogInAsync(lab.Port, lab.ReadToken);

        // Only the header is sent: the length alone must be enough to refuse it, nothing is buffered.
        await client.SendRawAsync([(byte)'Q', .. RawPgClient.Int32(64 * 1024 * 1024)]);
        var (type, body) = await client.ReadAsync();
        Assert.Equal((byte)'E', type);
        Assert.Equal("54000", RawPgClient.SqlState(body));
        Assert.Contains("--pg-max-message-size", RawPgClient.Field(body, 'M'), StringComparison.Ordinal);
        Assert.True(await client.IsClosedAsync());
    }

    [Fact]
    public async Task A_query_before_authentication_is_a_protocol_violation()
    {
        await using var client = await RawPgClient.ConnectAsync(lab.Port);
        await client.SendStartupAsync();
        Assert.Equal((byte)'R', (await client.ReadAsync()).Type);
        await client.SendAsync('Q', RawPgClient.CString("SELECT * FROM cpu"));
        var (type, body) = await client.ReadAsync();
        Assert.Equal((byte)'E', type);
        Assert.Equal("08P01", RawPgClient.SqlState(body));
        Assert.True(await client.IsClosedAsync());
    }

    [Fact]
    public async Task Unknown_message_type_ends_the_connection_and_others_keep_working()
    {
        await using var other = await lab.OpenAsync();
        await using var client = await RawPgClient.LogInAsync(lab.Port, lab.ReadToken);
        await client.SendAsync('!', [1, 2, 3]);
        var (type, body) = await client.ReadAsync();
        Assert.Equal((byte)'E', type);
        Assert.Equal("08P01", RawPgClient.SqlState(body));
        Assert.True(await client.IsClosedAsync());
        Assert.Equal(60L, await new NpgsqlCommand("SELECT count(*) FROM cpu", other).ExecuteScalarAsync());
    }

    [Fact]
    public async Task Truncated_bind_message_is_a_protocol_violation()
    {
        await using var client = await RawPgClient.LogInAsync(lab.Port, lab.ReadToken);
        await client.SendAsync('P', RawPgClient.CString(""), RawPgClient.CString("SELECT $1"), RawPgClient.Int16(0));
        await client.SendAsync('B', RawPgClient.CString(""), RawPgClient.CString(""), RawPgClient.Int16(0), RawPgClient.Int16(1), RawPgClient.Int32(1000));
        var messages = await client.ReadUntilAsync('E');
        Assert.Equal("08P01", RawPgClient.SqlState(messages[^1].Body));
        Assert.True(await client.IsClosedAsync());
    }

    [Fact]
    public async Task Extended_protocol_error_skips_to_sync_and_the_connection_goes_on()
    {
        await using var client = await RawPgClient.LogInAsync(lab.Port, lab.ReadToken);
        await client.SendAsync('P', RawPgClient.CString(""), RawPgClient.CString("SELECT * FROM nowhere"), RawPgClient.Int16(0));
        await client.SendAsync('B', RawPgClient.CString(""), RawPgClient.CString(""), RawPgClient.Int16(0), RawPgClient.Int16(0), RawPgClient.Int16(0));
        await client.SendAsync('E', RawPgClient.CString(""), RawPgClient.Int32(0));
        await client.SendAsync('S');
        var messages = await client.ReadUntilAsync('Z');
        Assert.Equal("12EZ", new string([.. messages.Select(m => (char)m.Type)]));
        Assert.Equal("42P01", RawPgClient.SqlState(messages[2].Body));
        await client.SendAsync('Q', RawPgClient.CString("SELECT 1"));
        Assert.Equal("TDCZ", new string([.. (await client.ReadUntilAsync('Z')).Select(m => (char)m.Type)]));
    }

    [Fact]
    public async Task Named_statements_beyond_the_cap_are_refused_and_closing_one_makes_room()
    {
        await using var client = await RawPgClient.LogInAsync(lab.Port, lab.ReadToken);
        for (int i = 0; i <= 1000; i++)
        {
            await client.SendAsync('P', RawPgClient.CString("s" + i), RawPgClient.CString("SELECT 1"), RawPgClient.Int16(0));
        }

        await client.SendAsync('S');
        var messages = await client.ReadUntilAsync('Z');
        Assert.Equal(1000, messages.Count(m => m.Type == (byte)'1'));
        Assert.Equal("54000", RawPgClient.SqlState(messages.Single(m => m.Type == (byte)'E').Body));
        await client.SendAsync('C', [(byte)'S'], RawPgClient.CString("s0"));
        await client.SendAsync('P', RawPgClient.CString("s1000"), RawPgClient.CString("SELECT 1"), RawPgClient.Int16(0));
        await client.SendAsync('S');
        Assert.Equal("31Z", new string([.. (await client.ReadUntilAsync('Z')).Select(m => (char)m.Type)]));
    }

    [Fact]
    public async Task Gss_encryption_request_is_refused_and_startup_goes_on()
    {
        await using var client = await RawPgClient.ConnectAsync(lab.Port);
        await client.SendRawAsync([.. RawPgClient.Int32(8), .. RawPgClient.Int32(80877104)]);
        Assert.Equal((byte)'N', await client.ReadByteAsync());
        await client.SendStartupAsync();
        Assert.Equal((byte)'R', (await client.ReadAsync()).Type);
    }
}
