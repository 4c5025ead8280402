using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;
using Plexus.Server;

// Fetches one large result (1 M rows by default) from an in-process server three ways — the PostgreSQL wire
// protocol through Npgsql (binary rows), POST /api/v1/sql as JSON and as CSV — and prints each one's median time and
// rows per second. Each client reads and decodes every value, as an application would. The rows come from a
// generated query, so the figures compare the doors, not the storage. When PostgreSQL's server is installed
// (Debian's `postgresql`), a throwaway PostgreSQL answers the same rows from generate_series over its own wire
// protocol, read by the same Npgsql code: the baseline for our listener. Usage: dotnet run -c Release --project
// bench/Plexus.PgWireBench [rows] [runs] [--no-postgres]
string[] numbers = args.Where(argument => !argument.StartsWith("--", StringComparison.Ordinal)).ToArray();
int rows = numbers.Length > 0 ? int.Parse(numbers[0], CultureInfo.InvariantCulture) : 1_000_000;
int runs = numbers.Length > 1 ? int.Parse(numbers[1], CultureInfo.InvariantCulture) : 5;
string? postgresBinaries = args.Contains("--no-postgres") ? null : PostgresCluster.FindBinaries();
if (postgresBinaries is null && !args.Contains("--no-postgres"))
{
    Console.WriteLine("PostgreSQL's server is not installed (apt-get install postgresql): measuring without it");
}
const string Token = "bench-admin-token-0123456789";
string folder = Path.Combine(Path.GetTempPath(), "plexus-pgwire-bench-" + Guid.NewGuid().ToString("N"));
string sql = $"SELECT range AS id, CAST(range * 1.5 AS DOUBLE) AS value, 'host-' || (range % 100) AS host, TIMESTAMP '2024-01-01' + to_seconds(range) AS time FROM range({rows})";

await using (var server = await PlexusServer.StartAsync(new PlexusServerOptions
{
    DataDirectory = folder,
    HttpEndpoint = "127.0.0.1:0",
    MqttEndpoint = PlexusServerOptions.MqttOff,
    PgEndpoint = "127.0.0.1:0",
    PgAllowLoopbackCleartext = true,
    AdminToken = Token,
    QueryMaxRows = rows + 1,
    QueryMaxBytes = 4L * 1024 * 1024 * 1024,
    QueryTimeout = TimeSpan.FromMinutes(5),
}))
{
    using var http = new HttpClient { BaseAddress = server.HttpAddress, Timeout = TimeSpan.FromMinutes(5) };
    http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Token", Token);
    string connectionString = $"Host=127.0.0.1;Port={server.PgEndpoint!.Port};Username=bench;Password={Token};Database=main;Pooling=true;Command Timeout=300";
    await using var dataSource = NpgsqlDataSource.Create(connectionString);

    await using var postgres = postgresBinaries is null ? null : await PostgresCluster.StartAsync(postgresBinaries);
    await using var postgresSource = postgres is null ? null : NpgsqlDataSource.Create(postgres.ConnectionString);
    string postgresSql = $"SELECT g AS id, (g * 1.5)::float8 AS value, 'host-' || (g % 100) AS host, TIMESTAMP '2024-01-01' + g * INTERVAL '1 second' AS time FROM generate_series(0, {rows - 1}::bigint) g";

    Task<long> PgWireAsync() => NpgsqlFetchAsync(dataSource, sql);

    async Task<long> NpgsqlFetchAsync(NpgsqlDataSource source, string query)
    {
        await using var connection = await source.OpenConnectionAsync();
        await using var command = new NpgsqlCommand(query, connection);
        await using var reader = await command.ExecuteReaderAsync();
        long count = 0;
        long check = 0;
        while (await reader.ReadAsync())
        {
            check += reader.GetInt64(0) + (long)reader.GetDouble(1) + reader.GetString(2).Length + reader.GetDateTime(3).Second;
            count++;
        }

        return count + (check == 0 ? 0 : 0);
    }

    async Task<long> JsonAsync()
    {
        using var response = await http.PostAsJsonAsync("/api/v1/sql", new { sql }, CancellationToken.None);
        response.EnsureSuccessStatusCode();
        await using var body = await response.Content.ReadAsStreamAsync();
        using var document = await JsonDocument.ParseAsync(body);
        long count = 0;
        long check = 0;
        foreach (var row in document.RootElement.GetProperty("rows").EnumerateArray())
        {
            check += row[0].GetInt64() + (long)row[1].GetDouble() + row[2].GetString()!.Length + row[3].GetDateTime().Second;
            count++;
        }

        return count + (check == 0 ? 0 : 0);
    }

    async Task<long> CsvAsync()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/sql") { Content = JsonContent.Create(new { sql }) };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/csv"));
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        await reader.ReadLineAsync();
        long count = 0;
        long check = 0;
        while (await reader.ReadLineAsync() is { } line)
        {
            var fields = line.Split(',');
            check += long.Parse(fields[0], CultureInfo.InvariantCulture) + (long)double.Parse(fields[1], CultureInfo.InvariantCulture) + fields[2].Length + DateTime.Parse(fields[3], CultureInfo.InvariantCulture).Second;
            count++;
        }

        return count + (check == 0 ? 0 : 0);
    }

    var doors = new List<(string Name, Func<Task<long>> Fetch)> { ("pgwire (Npgsql, binary)", PgWireAsync), ("/api/v1/sql JSON", JsonAsync), ("/api/v1/sql CSV", CsvAsync) };
    if (postgres is not null)
    {
        // Also from a stored table, so PostgreSQL's figure is its door alone and not its row-at-a-time generator.
        await using (var create = postgresSource!.CreateCommand($"CREATE UNLOGGED TABLE bench_rows AS {postgresSql}"))
        {
            await create.ExecuteNonQueryAsync();
        }

        doors.Add(($"PostgreSQL {postgres.Version} generated", () => NpgsqlFetchAsync(postgresSource, postgresSql)));
        doors.Add(($"PostgreSQL {postgres.Version} table", () => NpgsqlFetchAsync(postgresSource, "SELECT id, value, host, time FROM bench_rows")));
    }

    var times = doors.ToDictionary(door => door.Name, _ => new List<double>());

    // One warm-up of each, then the doors in turn so that a burst of load elsewhere falls on all of them.
    foreach (var door in doors)
    {
        long fetched = await door.Fetch();
        if (fetched != rows)
        {
            throw new InvalidOperationException($"{door.Name} returned {fetched} rows, not {rows}");
        }
    }

    for (int run = 0; run < runs; run++)
    {
        foreach (var door in doors)
        {
            var clock = Stopwatch.StartNew();
            await door.Fetch();
            times[door.Name].Add(clock.Elapsed.TotalSeconds);
        }
    }

    Console.WriteLine($"{rows:N0} rows (id BIGINT, value DOUBLE, host VARCHAR, time TIMESTAMP), median of {runs} runs, {Environment.ProcessorCount} cores");
    Console.WriteLine($"{"door",-26} {"seconds",8} {"rows/s",12} {"vs pgwire",10}");
    double ours = times[doors[0].Name].Order().ElementAt(runs / 2);
    foreach (var door in doors)
    {
        double median = times[door.Name].Order().ElementAt(runs / 2);
        Console.WriteLine($"{door.Name,-26} {median,8:0.000} {rows / median,12:N0} {median / ours,9:0.00}x");
    }
}

Directory.Delete(folder, recursive: true);
