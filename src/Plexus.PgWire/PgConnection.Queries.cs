using Microsoft.Extensions.Logging;
using Plexus.PgWire.Protocol;
using Plexus.PgWire.Sql;
using Plexus.Query;

namespace Plexus.PgWire;

/// <summary>The simple and extended query protocols: Parse, Bind, Describe, Execute, Sync, Close, and COPY out.</summary>
internal sealed partial class PgConnection
{
    private async Task ServeAsync()
    {
        while (true)
        {
            var (type, payload) = await ReadMessageAsync(_closing);
            if (type == (byte)'X')
            {
                return;
            }

            if (_skipToSync && type != (byte)'S')
            {
                continue;
            }

            if (type is (byte)'Q' or (byte)'P' or (byte)'B' or (byte)'D' or (byte)'E' && !_principal.StillAuthorized())
            {
                _server.Logger.LogInformation("PostgreSQL connection of token {Token} from {Remote} closed: the token was revoked", _principal.Name, _socket.RemoteEndPoint);
                await TryWriteFatalAsync(PgErrorCodes.InvalidAuthorization, $"token \"{_principal.Name}\" was revoked (or no longer has scope read): connect again with a valid token");
                return;
            }

            try
            {
                switch ((char)type)
                {
                    case 'Q':
                        await SimpleQueryAsync(new PgMessageReader(payload).ReadCString());
                        break;
                    case 'P':
                        Parse(payload);
                        break;
                    case 'B':
                        await BindAsync(payload);
                        break;
                    case 'D':
                        await DescribeAsync(payload);
                        break;
                    case 'E':
                        await ExecuteAsync(payload);
                        break;
                    case 'C':
                        await CloseAsync(payload);
                        break;
                    case 'S':
                        await SyncAsync();
                        break;
                    case 'H':
                        await FlushAsync(_closing);
                        break;
                    case 'd' or 'c' or 'f':
                        // Copy data outside a COPY FROM: PostgreSQL ignores it, and so do we.
                        break;
                    default:
                        throw new PgProtocolException($"unknown message type '{(char)type}' (0x{type:x2})");
                }
            }
            catch (PgException error)
            {
                // The extended protocol skips what the client sent after the error until its Sync.
                WriteError(error);
                _skipToSync = true;
                _failedTransaction |= _inTransaction;
            }
        }
    }

    private async Task SimpleQueryAsync(string sql)
    {
        var statements = SqlText.Split(sql);
        if (statements.Count == 0)
        {
            _out.StartMessage((byte)'I');
            _out.EndMessage();
        }

        foreach (string text in statements)
        {
            try
            {
                var portal = new Portal(_session.Classify(text), []);
                if (portal.Statement.Kind is StatementKind.Query or StatementKind.Show or StatementKind.Canned)
                {
                    await DescribePortalAsync(portal);
                }

                await RunAsync(portal, maxRows: 0);
            }
            catch (PgException error)
            {
                WriteError(error);
                _failedTransaction |= _inTransaction;
                break;
            }
        }

        WriteReadyForQuery();
        await FlushAsync(_closing);
    }

    private void Parse(byte[] payload)
    {
        var reader = new PgMessageReader(payload);
        string name = reader.ReadCString();
        string sql = reader.ReadCString();
        int count = reader.ReadInt16();
        var types = new int[Math.Max(0, count)];
        for (int i = 0; i < types.Length; i++)
        {
            types[i] = reader.ReadInt32();
        }

        if (name.Length > 0 && _statements.ContainsKey(name))
        {
            throw new PgException("42P05", $"prepared statement \"{name}\" already exists");
        }

        long held = _statements.Where(entry => entry.Key != name).Sum(entry => (long)entry.Value.Statement.Sql.Length);
        if (_statements.Count >= MaxPreparedStatements && !_statements.ContainsKey(name) || held + sql.Length > MaxPreparedBytes)
        {
            throw new PgException(PgErrorCodes.ProgramLimitExceeded, $"this connection holds {_statements.Count} prepared statements ({held} characters); at most {MaxPreparedStatements} and {MaxPreparedBytes / (1024 * 1024)} MiB of text may be kept: close some (Close, or DEALLOCATE)");
        }

        var statement = _session.Classify(sql);
        int used = SqlText.ParameterCount(statement.Sql);
        if (used > types.Length)
        {
            Array.Resize(ref types, used);
        }

        _statements[name] = new PreparedStatement(statement, types);
        _out.StartMessage((byte)'1');
        _out.EndMessage();
    }

    private async Task BindAsync(byte[] payload)
    {
        var reader = new PgMessageReader(payload);
        string portalName = reader.ReadCString();
        string statementName = reader.ReadCString();
        var formats = new short[Math.Max(0, (int)reader.ReadInt16())];
        for (int i = 0; i < formats.Length; i++)
        {
            formats[i] = reader.ReadInt16();
        }

        int count = reader.ReadInt16();
        var values = new byte[]?[Math.Max(0, count)];
        for (int i = 0; i < values.Length; i++)
        {
            int length = reader.ReadInt32();
            values[i] = length == -1 ? null : reader.ReadBytes(length);
        }

        var resultFormats = new short[Math.Max(0, (int)reader.ReadInt16())];
        for (int i = 0; i < resultFormats.Length; i++)
        {
            resultFormats[i] = reader.ReadInt16();
        }

        if (!_statements.TryGetValue(statementName, out var prepared))
        {
            throw new PgException(PgErrorCodes.InvalidSqlStatementName, $"prepared statement \"{statementName}\" does not exist");
        }

        if (values.Length != prepared.ParameterTypes.Length)
        {
            throw new PgException(PgErrorCodes.ProtocolViolation, $"bind message supplies {values.Length} parameters, but prepared statement \"{statementName}\" requires {prepared.ParameterTypes.Length}");
        }

        var literals = new string[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            literals[i] = PgParameters.Literal(prepared.ParameterTypes[i], PgAnswerFormat.FormatOf(formats, i), values[i]);
        }

        if (_portals.Remove(portalName, out var old))
        {
            await old.CloseAsync(this);
        }

        var statement = prepared.Statement with { Sql = SqlText.Bind(prepared.Statement.Sql, literals) };
        _portals[portalName] = new Portal(statement, resultFormats) { Prepared = prepared };
        _out.StartMessage((byte)'2');
        _out.EndMessage();
    }

    private async Task DescribeAsync(byte[] payload)
    {
        var reader = new PgMessageReader(payload);
        byte what = reader.ReadByte();
        string name = reader.ReadCString();
        if (what == (byte)'S')
        {
            if (!_statements.TryGetValue(name, out var prepared))
            {
                throw new PgException(PgErrorCodes.InvalidSqlStatementName, $"prepared statement \"{name}\" does not exist");
            }

            _out.StartMessage((byte)'t');
            _out.WriteInt16((short)prepared.ParameterTypes.Length);
            foreach (int type in prepared.ParameterTypes)
            {
                _out.WriteInt32(type == 0 ? PgTypes.TextOid : type);
            }

            _out.EndMessage();
            var columns = await DescribeStatementAsync(prepared);
            if (columns is null)
            {
                WriteNoData();
            }
            else
            {
                WriteRowDescription(columns, []);
            }

            return;
        }

        if (what != (byte)'P')
        {
            throw new PgProtocolException($"Describe of '{(char)what}': only 'S' (statement) and 'P' (portal) exist");
        }

        if (!_portals.TryGetValue(name, out var portal))
        {
            throw new PgException(PgErrorCodes.InvalidCursorName, $"portal \"{name}\" does not exist");
        }

        await DescribePortalAsync(portal);
    }

    private async Task ExecuteAsync(byte[] payload)
    {
        var reader = new PgMessageReader(payload);
        string name = reader.ReadCString();
        int maxRows = reader.ReadInt32();
        if (!_portals.TryGetValue(name, out var portal))
        {
            throw new PgException(PgErrorCodes.InvalidCursorName, $"portal \"{name}\" does not exist");
        }

        await RunAsync(portal, Math.Max(0, maxRows));
    }

    private async Task CloseAsync(byte[] payload)
    {
        var reader = new PgMessageReader(payload);
        byte what = reader.ReadByte();
        string name = reader.ReadCString();
        if (what == (byte)'S')
        {
            _statements.Remove(name);
        }
        else if (what == (byte)'P')
        {
            if (_portals.Remove(name, out var portal))
            {
                await portal.CloseAsync(this);
            }
        }
        else
        {
            throw new PgProtocolException($"Close of '{(char)what}': only 'S' (statement) and 'P' (portal) exist");
        }

        _out.StartMessage((byte)'3');
        _out.EndMessage();
    }

    private async Task SyncAsync()
    {
        _skipToSync = false;
        if (!_inTransaction)
        {
            await CloseAllPortalsAsync();
        }

        WriteReadyForQuery();
        await FlushAsync(_closing);
    }

    private async Task CloseAllPortalsAsync()
    {
        foreach (var portal in _portals.Values)
        {
            await portal.CloseAsync(this);
        }

        _portals.Clear();
    }

    /// <summary>The columns of a prepared statement, found by planning it with NULL parameters and reading no row.</summary>
    private async Task<IReadOnlyList<PgColumn>?> DescribeStatementAsync(PreparedStatement prepared)
    {
        var statement = prepared.Statement;
        if (statement.Kind == StatementKind.Show)
        {
            return ShowColumns(statement.Setting!);
        }

        if (statement.Kind == StatementKind.Canned)
        {
            return [.. statement.Canned!.Columns.Select(PgColumn.Text)];
        }

        if (statement.Kind != StatementKind.Query)
        {
            return null;
        }

        if (prepared.Columns is { } known)
        {
            return known;
        }

        var nulls = prepared.ParameterTypes.Select(type => PgParameters.Literal(type, 0, null)).ToArray();
        string sql = SqlText.Bind(statement.Sql, nulls);
        string code = SqlText.CodeOnly(sql).TrimStart().ToLowerInvariant();
        if (code.StartsWith("select", StringComparison.Ordinal) || code.StartsWith("with", StringComparison.Ordinal) || code.StartsWith("from", StringComparison.Ordinal) || code.StartsWith("values", StringComparison.Ordinal) || code.StartsWith('('))
        {
            // The statement may end in a line comment: the closing parenthesis goes on a line of its own.
            sql = "SELECT * FROM (" + sql.Trim().TrimEnd(';') + "\n) AS plexus_describe LIMIT 0";
        }

        var result = await StartQueryAsync(sql, new PgAnswerFormat(PgAnswerKind.DataRows, []));
        var columns = result.Format.Columns;
        await AbandonAsync(result);
        prepared.Columns = columns;
        return columns;
    }

    private async Task DescribePortalAsync(Portal portal)
    {
        switch (portal.Statement.Kind)
        {
            case StatementKind.Query:
                portal.Result ??= await StartQueryAsync(portal.Statement.Sql, new PgAnswerFormat(PgAnswerKind.DataRows, portal.ResultFormats));
                WriteRowDescription(portal.Result.Format.Columns, portal.ResultFormats);
                break;
            case StatementKind.Show:
                WriteRowDescription(ShowColumns(portal.Statement.Setting!), portal.ResultFormats);
                break;
            case StatementKind.Canned:
                WriteRowDescription([.. portal.Statement.Canned!.Columns.Select(PgColumn.Text)], []);
                break;
            default:
                WriteNoData();
                break;
        }
    }

    private static PgColumn[] ShowColumns(string setting) => setting.Equals("all", StringComparison.OrdinalIgnoreCase)
        ? [PgColumn.Text("name"), PgColumn.Text("setting"), PgColumn.Text("description")]
        : [PgColumn.Text(setting)];

    /// <summary>Runs a portal up to <paramref name="maxRows"/> rows (0: all); false when it was suspended with rows left.</summary>
    private async Task<bool> RunAsync(Portal portal, int maxRows)
    {
        var statement = portal.Statement;
        if (_failedTransaction && statement.Kind is not (StatementKind.Commit or StatementKind.Rollback))
        {
            throw new PgException(PgErrorCodes.InFailedTransaction, "current transaction is aborted, commands ignored until end of transaction block");
        }

        if (portal.Done)
        {
            WriteCommandComplete(portal.CompletedTag ?? "SELECT 0");
            return true;
        }

        switch (statement.Kind)
        {
            case StatementKind.Empty:
                _out.StartMessage((byte)'I');
                _out.EndMessage();
                return true;
            case StatementKind.Begin:
                _inTransaction = true;
                break;
            case StatementKind.Commit:
                statement = _failedTransaction ? statement with { Tag = "ROLLBACK" } : statement;
                _inTransaction = false;
                _failedTransaction = false;
                break;
            case StatementKind.Rollback:
                _inTransaction = false;
                _failedTransaction = false;
                break;
            case StatementKind.Set:
                string? reported = statement.Value is null ? _session.Reset(statement.Setting!) : _session.Set(statement.Setting!, statement.Value);
                if (reported is not null)
                {
                    WriteParameterStatus(reported, _session.Get(reported));
                }

                break;
            case StatementKind.Reset:
                if (statement.Setting!.Equals("all", StringComparison.OrdinalIgnoreCase))
                {
                    _session.ResetAll();
                }
                else if (_session.Reset(statement.Setting) is { } changed)
                {
                    WriteParameterStatus(changed, _session.Get(changed));
                }

                break;
            case StatementKind.Discard:
                _session.ResetAll();
                _statements.Clear();
                break;
            case StatementKind.Deallocate:
                if (statement.Setting is "all")
                {
                    _statements.Clear();
                }
                else
                {
                    _statements.Remove(statement.Setting!);
                }

                break;
            case StatementKind.Show:
                foreach (var row in _session.Show(statement.Setting!))
                {
                    WriteTextRow(row);
                }

                break;
            case StatementKind.Canned:
                foreach (var row in statement.Canned!.Rows)
                {
                    WriteTextRow(row);
                }

                break;
            case StatementKind.CopyIn:
                throw new PgException(PgErrorCodes.InsufficientPrivilege, "COPY FROM writes, and this PostgreSQL listener only reads: write data through POST /api/v2/write (line protocol) or MQTT");
            case StatementKind.CopyOut:
                await CopyOutAsync(portal);
                return true;
            case StatementKind.Query:
                portal.Result ??= await StartQueryAsync(statement.Sql, new PgAnswerFormat(PgAnswerKind.DataRows, portal.ResultFormats));
                if (!await ForwardAsync(portal.Result, maxRows))
                {
                    _out.StartMessage((byte)'s');
                    _out.EndMessage();
                    return false;
                }

                var result = portal.Result;
                portal.Result = null;
                var outcome = await FinishAsync(result);
                portal.Done = true;
                portal.CompletedTag = "SELECT 0";
                WriteCommandComplete($"SELECT {result.Rows}");
                return outcome;
        }

        portal.Done = true;
        portal.CompletedTag = statement.Tag;
        WriteCommandComplete(statement.Tag);
        return true;
    }

    private async Task CopyOutAsync(Portal portal)
    {
        var statement = portal.Statement;
        var kind = statement.CsvFormat ? PgAnswerKind.CopyCsv : PgAnswerKind.CopyText;
        var result = await StartQueryAsync(statement.Sql, new PgAnswerFormat(kind, [], statement.Header));
        _out.StartMessage((byte)'H');
        _out.WriteByte(0);
        _out.WriteInt16((short)result.Format.Columns.Count);
        foreach (var unused in result.Format.Columns)
        {
            _out.WriteInt16(0);
        }

        _out.EndMessage();
        await ForwardAsync(result, 0);

        // The header line is a CopyData message too, not a row.
        long rows = result.Rows - (statement.Header && kind == PgAnswerKind.CopyCsv ? 1 : 0);
        await FinishAsync(result);
        _out.StartMessage((byte)'c');
        _out.EndMessage();
        portal.Done = true;
        WriteCommandComplete($"COPY {rows}");
    }
}
