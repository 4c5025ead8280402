using System.Text.RegularExpressions;

namespace Plexus.PgWire.Sql;

/// <summary>What a statement is to the wire layer: answered here, exported by COPY, or run by the engine.</summary>
internal enum StatementKind
{
    Query,
    Empty,
    Begin,
    Commit,
    Rollback,
    Set,
    Reset,
    Show,
    Canned,
    Discard,
    Deallocate,
    NoOp,
    CopyOut,
    CopyIn,
}

/// <summary>A statement classified, with what its kind needs: the setting of a SET/SHOW, COPY's query and options.</summary>
internal sealed record ClassifiedStatement(StatementKind Kind, string Sql, string Tag, string? Setting = null, string? Value = null, bool CsvFormat = false, bool Header = false, CannedResult? Canned = null);

/// <summary>
/// A connection's session settings, and the statements the wire layer answers itself. The engine's own settings
/// stay locked (a read connection cannot change them), so SET, SHOW, RESET, the transaction statements and
/// <c>version()</c>/<c>current_setting()</c> are answered from this table; clients send them on connect and expect
/// PostgreSQL's answers, none of them changes what a query returns.
/// </summary>
internal sealed partial class PgSession
{
    /// <summary>The PostgreSQL version the server reports: new enough for today's clients, old enough that they ask for little.</summary>
    public const string ServerVersion = "14.0";

    /// <summary>Settings reported to the client at start and whenever they change (PostgreSQL's GUC_REPORT ones).</summary>
    public static readonly IReadOnlyList<string> Reported =
    [
        "server_version", "server_encoding", "client_encoding", "DateStyle", "TimeZone", "integer_datetimes",
        "standard_conforming_strings", "IntervalStyle", "is_superuser", "session_authorization", "application_name",
        "default_transaction_read_only", "in_hot_standby",
    ];

    private readonly Dictionary<string, string> _defaults;
    private readonly Dictionary<string, string> _settings;

    public PgSession(string user, string applicationName, string database)
    {
        _defaults = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["server_version"] = ServerVersion,
            ["server_version_num"] = "140000",
            ["server_encoding"] = "UTF8",
            ["client_encoding"] = "UTF8",
            ["DateStyle"] = "ISO, MDY",
            ["TimeZone"] = "UTC",
            ["integer_datetimes"] = "on",
            ["standard_conforming_strings"] = "on",
            ["IntervalStyle"] = "postgres",
            ["is_superuser"] = "off",
            ["session_authorization"] = user,
            ["application_name"] = applicationName,
            ["default_transaction_read_only"] = "on",
            ["transaction_read_only"] = "on",
            ["in_hot_standby"] = "off",
            ["transaction_isolation"] = "serializable",
            ["default_transaction_isolation"] = "serializable",
            ["max_identifier_length"] = "63",
            ["search_path"] = database,
            ["extra_float_digits"] = "1",
            ["lc_messages"] = "C",
            ["lc_monetary"] = "C",
            ["lc_numeric"] = "C",
            ["lc_time"] = "C",
            ["statement_timeout"] = "0",
            ["bytea_output"] = "hex",
            ["current_database"] = database,
        };
        _settings = new Dictionary<string, string>(_defaults, StringComparer.OrdinalIgnoreCase);
    }

    public IReadOnlyDictionary<string, string> Settings => _settings;

    public string Get(string name) => _settings.TryGetValue(name, out string? value) ? value : "";

    public bool Knows(string name) => _settings.ContainsKey(name);

    /// <summary>Sets a session setting; returns the name as reported when the client should be told (ParameterStatus).</summary>
    public string? Set(string name, string value)
    {
        string canonical = _defaults.Keys.FirstOrDefault(key => key.Equals(name, StringComparison.OrdinalIgnoreCase)) ?? name.ToLowerInvariant();
        if (canonical is "server_version" or "server_encoding" or "integer_datetimes" or "is_superuser" or "in_hot_standby" or "server_version_num")
        {
            throw new PgException(PgErrorCodes.CantChangeRuntimeParam, $"parameter \"{name}\" cannot be changed");
        }

        if (canonical == "client_encoding" && !value.Replace("-", "", StringComparison.Ordinal).Equals("UTF8", StringComparison.OrdinalIgnoreCase) && !value.Equals("UNICODE", StringComparison.OrdinalIgnoreCase))
        {
            throw new PgException(PgErrorCodes.FeatureNotSupported, $"client_encoding {value} is not supported: Plexus speaks UTF8 only");
        }

        if (canonical is "transaction_read_only" or "default_transaction_read_only" && value is "off" or "false" or "0")
        {
            throw new PgException(PgErrorCodes.InsufficientPrivilege, "this connection is read-only: data comes in through the write API (POST /api/v2/write) or MQTT");
        }

        _settings[canonical] = value;
        return Reported.Contains(canonical) ? canonical : null;
    }

    public string? Reset(string name)
    {
        string canonical = _defaults.Keys.FirstOrDefault(key => key.Equals(name, StringComparison.OrdinalIgnoreCase)) ?? name.ToLowerInvariant();
        if (_defaults.TryGetValue(canonical, out string? value))
        {
            _settings[canonical] = value;
        }
        else
        {
            _settings.Remove(canonical);
        }

        return Reported.Contains(canonical) ? canonical : null;
    }

    public void ResetAll()
    {
        _settings.Clear();
        foreach (var (key, value) in _defaults)
        {
            _settings[key] = value;
        }
    }

    /// <summary>What the statement is to the wire layer.</summary>
    public ClassifiedStatement Classify(string sql)
    {
        string code = SqlText.CodeOnly(sql).Trim().TrimEnd(';').Trim();
        if (code.Length == 0)
        {
            return new ClassifiedStatement(StatementKind.Empty, sql, "");
        }

        string lower = code.ToLowerInvariant();
        string first = FirstWord().Match(lower).Value;
        switch (first)
        {
            case "begin" or "start":
                return new ClassifiedStatement(StatementKind.Begin, sql, "BEGIN");
            case "commit" or "end":
                return new ClassifiedStatement(StatementKind.Commit, sql, "COMMIT");
            case "rollback" or "abort":
                return lower.Contains(" to ", StringComparison.Ordinal)
                    ? new ClassifiedStatement(StatementKind.NoOp, sql, "ROLLBACK")
                    : new ClassifiedStatement(StatementKind.Rollback, sql, "ROLLBACK");
            case "savepoint":
                return new ClassifiedStatement(StatementKind.NoOp, sql, "SAVEPOINT");
            case "release":
                return new ClassifiedStatement(StatementKind.NoOp, sql, "RELEASE");
            case "discard":
                return new ClassifiedStatement(StatementKind.Discard, sql, "DISCARD ALL");
            case "deallocate":
                return new ClassifiedStatement(StatementKind.Deallocate, sql, "DEALLOCATE", Setting: LastWord(lower));
            case "listen" or "unlisten":
                return new ClassifiedStatement(StatementKind.NoOp, sql, first.ToUpperInvariant());
            case "set":
                return ClassifySet(sql.Trim().TrimEnd(';').Trim(), lower);
            case "reset":
                return new ClassifiedStatement(StatementKind.Reset, sql, "RESET", Setting: Unquote(sql.Trim().TrimEnd(';').Trim()[5..].Trim()));
            case "show":
                string name = Unquote(sql.Trim().TrimEnd(';').Trim()[4..].Trim());
                return Knows(name) || name.Equals("all", StringComparison.OrdinalIgnoreCase)
                    ? new ClassifiedStatement(StatementKind.Show, sql, "SHOW", Setting: name)
                    : new ClassifiedStatement(StatementKind.Query, sql, "SELECT");
            case "copy":
                return ClassifyCopy(sql, lower);
        }

        if (PgTypeCatalog.TryAnswer(sql, code) is { } canned)
        {
            return new ClassifiedStatement(StatementKind.Canned, sql, "SELECT " + canned.Rows.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), Canned: canned);
        }

        return new ClassifiedStatement(StatementKind.Query, PgCatalogRewriter.Rewrite(RewriteFunctions(RewriteUser(sql)), SearchPath()), "SELECT");
    }

    private static ClassifiedStatement ClassifySet(string sql, string lower)
    {
        var match = SetStatement().Match(sql);
        if (lower.StartsWith("set transaction", StringComparison.Ordinal) || lower.StartsWith("set session characteristics", StringComparison.Ordinal))
        {
            if (lower.Contains("read write", StringComparison.Ordinal))
            {
                throw new PgException(PgErrorCodes.InsufficientPrivilege, "this connection is read-only: data comes in through the write API (POST /api/v2/write) or MQTT");
            }

            return new ClassifiedStatement(StatementKind.NoOp, sql, "SET");
        }

        var zone = SetTimeZone().Match(sql);
        if (zone.Success)
        {
            return new ClassifiedStatement(StatementKind.Set, sql, "SET", "TimeZone", Unquote(zone.Groups["value"].Value.Trim()));
        }

        if (!match.Success)
        {
            throw new PgException(PgErrorCodes.SyntaxError, "SET needs a setting and a value: SET name TO value", position: 1);
        }

        string value = match.Groups["value"].Value.Trim();
        return new ClassifiedStatement(StatementKind.Set, sql, "SET", Unquote(match.Groups["name"].Value), value.Equals("default", StringComparison.OrdinalIgnoreCase) ? null : Unquote(value));
    }

    private static ClassifiedStatement ClassifyCopy(string sql, string lower)
    {
        if (FromWord().IsMatch(lower))
        {
            return new ClassifiedStatement(StatementKind.CopyIn, sql, "COPY");
        }

        var match = CopyOut().Match(sql);
        if (!match.Success)
        {
            throw new PgException(PgErrorCodes.FeatureNotSupported, "only COPY (query) TO STDOUT and COPY table TO STDOUT are supported (psql: \\copy (SELECT ...) TO 'file.csv' WITH CSV HEADER)");
        }

        string query = match.Groups["query"].Success ? match.Groups["query"].Value : "SELECT * FROM " + match.Groups["table"].Value;
        string options = match.Groups["options"].Value.ToLowerInvariant();
        bool csv = CsvOption().IsMatch(options);
        bool header = HeaderOption().IsMatch(options);
        return new ClassifiedStatement(StatementKind.CopyOut, query, "COPY", CsvFormat: csv, Header: header);
    }

    /// <summary>
    /// <c>version()</c> and <c>current_setting('name')</c> of a session setting answer as PostgreSQL would; the
    /// engine's own would say DuckDB, which clients that check the version do not understand.
    /// </summary>
    public string RewriteFunctions(string sql)
    {
        var single = SingleCall().Match(sql);
        if (single.Success)
        {
            // The whole statement is one call: its column keeps the function's name, as PostgreSQL names it.
            string inner = RewriteFunctions(single.Groups["call"].Value);
            if (inner != single.Groups["call"].Value)
            {
                return $"SELECT {inner} AS {single.Groups["name"].Value.ToLowerInvariant()}";
            }
        }

        string code = SqlText.CodeOnly(sql);
        if (!code.Contains("version", StringComparison.OrdinalIgnoreCase) && !code.Contains("current_setting", StringComparison.OrdinalIgnoreCase))
        {
            return sql;
        }

        var rewritten = new System.Text.StringBuilder();
        int copied = 0;
        foreach (Match match in SessionFunction().Matches(sql))
        {
            // Only a call in code: the same letters inside a string or a comment stay.
            if (code[match.Index] == ' ' && sql[match.Index] != ' ')
            {
                continue;
            }

            string? literal = null;
            int length = match.Length;
            if (match.Groups["version"].Success)
            {
                literal = PgParameters.Quote($"PostgreSQL {ServerVersion} (Plexus, DuckDB engine) on x86_64-pc-linux-gnu, 64-bit");
            }
            else if (Knows(match.Groups["setting"].Value))
            {
                string value = Get(match.Groups["setting"].Value);
                literal = PgParameters.Quote(value);

                // current_setting('server_version_num')::int/100 (Grafana's version probe) divides integers, which
                // PostgreSQL truncates and the engine would not: the cast and the division are done here.
                var cast = IntegerCast().Match(code, match.Index + match.Length);
                if (cast.Success && long.TryParse(value, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out long number))
                {
                    long divisor = cast.Groups["divisor"].Success ? long.Parse(cast.Groups["divisor"].Value, System.Globalization.CultureInfo.InvariantCulture) : 1;
                    if (divisor != 0)
                    {
                        literal = (number / divisor).ToString(System.Globalization.CultureInfo.InvariantCulture);
                        length += cast.Length;
                    }
                }
            }

            if (literal is not null)
            {
                rewritten.Append(sql, copied, match.Index - copied).Append(literal);
                copied = match.Index + length;
            }
        }

        return rewritten.Append(sql, copied, sql.Length - copied).ToString();
    }

    /// <summary>The schemas of search_path, "$user" read as the user's name.</summary>
    private List<string> SearchPath() =>
        [.. Get("search_path").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(schema => schema == "\"$user\"" ? Get("session_authorization") : schema.Trim('"'))];

    /// <summary>current_user and session_user are the connection's user name, as PostgreSQL answers (the engine says "duckdb").</summary>
    private string RewriteUser(string sql)
    {
        string code = SqlText.CodeOnly(sql);
        if (!code.Contains("user", StringComparison.OrdinalIgnoreCase))
        {
            return sql;
        }

        var rewritten = new System.Text.StringBuilder();
        int copied = 0;
        foreach (Match match in UserFunction().Matches(code))
        {
            rewritten.Append(sql, copied, match.Index - copied).Append(PgParameters.Quote(Get("session_authorization")));
            copied = match.Index + match.Length;
        }

        return rewritten.Append(sql, copied, sql.Length - copied).ToString();
    }

    /// <summary>The rows of SHOW: one setting, or every one with SHOW ALL.</summary>
    public IEnumerable<string[]> Show(string name) => name.Equals("all", StringComparison.OrdinalIgnoreCase)
        ? _settings.OrderBy(setting => setting.Key, StringComparer.OrdinalIgnoreCase).Select(setting => new[] { setting.Key, setting.Value, "" })
        : [[Get(name)]];

    private static string LastWord(string text) => text.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1].Trim('"');

    private static string Unquote(string value)
    {
        value = value.Trim();
        if (value.Length >= 2 && ((value[0] == '\'' && value[^1] == '\'') || (value[0] == '"' && value[^1] == '"')))
        {
            return value[1..^1].Replace("''", "'", StringComparison.Ordinal);
        }

        return value;
    }

    [GeneratedRegex(@"^\s*select\s+(?<call>(?:pg_catalog\s*\.\s*)?(?<name>version|current_setting)\s*\([^()]*\))\s*;?\s*$", RegexOptions.IgnoreCase)]
    private static partial Regex SingleCall();

    // "user" alone only where it cannot be a column: after THEN or ELSE (Grafana's search-path query).
    [GeneratedRegex(@"(?<![.\w""])(?:current_user|session_user|(?<=\b(?:THEN|ELSE)\s+)user)\b(?!\s*[.(])", RegexOptions.IgnoreCase)]
    private static partial Regex UserFunction();

    [GeneratedRegex(@"^[a-z]+")]
    private static partial Regex FirstWord();

    [GeneratedRegex(@"^set\s+(?:session\s+|local\s+)?(?<name>[A-Za-z_][\w.]*|""[^""]+"")\s*(?:=|\s+to\s+)\s*(?<value>.+)$", RegexOptions.IgnoreCase | RegexOptions.Singleline)]
    private static partial Regex SetStatement();

    [GeneratedRegex(@"^set\s+(?:session\s+|local\s+)?time\s+zone\s+(?<value>.+)$", RegexOptions.IgnoreCase | RegexOptions.Singleline)]
    private static partial Regex SetTimeZone();

    [GeneratedRegex(@"^\s*copy\s+(?:\((?<query>.*)\)|(?<table>[\w.""]+))\s+to\s+stdout\b(?<options>.*?);?\s*$", RegexOptions.IgnoreCase | RegexOptions.Singleline)]
    private static partial Regex CopyOut();

    [GeneratedRegex(@"^\s*copy\s+[\w.""]+\s*(?:\([^)]*\))?\s*from\b")]
    private static partial Regex FromWord();

    [GeneratedRegex(@"\bcsv\b")]
    private static partial Regex CsvOption();

    [GeneratedRegex(@"\bheader\b(?!\s+(false|off|0)\b)")]
    private static partial Regex HeaderOption();

    // A cast to an integer type, with a division by an integer that nothing binding tighter (^, ::, a fraction) follows.
    [GeneratedRegex(@"\G\s*::\s*(?:int|integer|int4|int8|bigint)\b(?:\s*/\s*(?<divisor>\d{1,18})(?![\d.]|\s*(?:\^|::)))?", RegexOptions.IgnoreCase)]
    private static partial Regex IntegerCast();

    [GeneratedRegex(@"(?:pg_catalog\s*\.\s*)?(?:(?<version>\bversion\s*\(\s*\))|\bcurrent_setting\s*\(\s*'(?<setting>[A-Za-z_.]+)'\s*(?:,\s*(?:true|false)\s*)?\))", RegexOptions.IgnoreCase)]
    private static partial Regex SessionFunction();
}
