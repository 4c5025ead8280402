namespace Plexus.InfluxQL.Tests;

/// <summary>
/// What Grafana's InfluxDB data source sends in InfluxQL mode (read from grafana/grafana: influxql_query_builder.ts and
/// influx_query_model.ts), for the measurement "cpu", tags "host" and "region" and the field "usage". The server
/// corpus answers each of them against data; here each must parse.
/// </summary>
public static class GrafanaStatements
{
    public static readonly string[] Metadata =
    [
        "SHOW MEASUREMENTS LIMIT 1",
        "SHOW DATABASES",
        "SHOW RETENTION POLICIES on \"lab\"",
        "SHOW MEASUREMENTS LIMIT 100",
        "SHOW MEASUREMENTS WITH MEASUREMENT =~ /(?i)CPU/ LIMIT 100",
        "SHOW FIELD KEYS",
        "SHOW FIELD KEYS FROM \"cpu\"",
        "SHOW FIELD KEYS FROM \"autogen\".\"cpu\"",
        "SHOW TAG KEYS FROM \"cpu\"",
        "SHOW TAG KEYS FROM \"cpu\" WHERE \"host\" = 'c'",
        "SHOW TAG VALUES FROM \"cpu\" WITH KEY = \"host\"",
        "SHOW TAG VALUES FROM \"cpu\" WITH KEY = \"host\" WHERE \"region\" = 'east' AND \"host\" =~ /^(a|b)$/",
        "SHOW TAG VALUES FROM /.*/ WITH KEY = \"host\"",
        "SHOW TAG KEYS FROM \"cpu\" WHERE \"host\"::tag = 'a'",
    ];

    public static readonly string[] Queries =
    [
        "SELECT mean(\"usage\") FROM \"cpu\" WHERE (\"host\" = 'a') AND time >= 1700000000000ms and time <= 1700000120000ms GROUP BY time(10s), \"host\" fill(null)",
        "SELECT mean(\"usage\") FROM \"cpu\" WHERE time >= 1700000000000ms and time <= 1700000590000ms GROUP BY time(1m), \"host\" fill(null) ORDER BY time DESC",
        "SELECT mean(\"usage\") FROM \"cpu\" WHERE time >= 1700000000000ms and time <= 1700000590000ms GROUP BY time(1m), \"host\" fill(null) LIMIT 3",
        "SELECT mean(\"usage\") FROM \"cpu\" WHERE time >= 1700000000000ms and time <= 1700000590000ms GROUP BY time(1m), \"host\" fill(null) SLIMIT 2",
        "SELECT mean(\"usage\") FROM \"cpu\" WHERE (\"host\" = 'a') AND time >= 1700000000000ms and time <= 1700000590000ms GROUP BY time(1d) fill(null) tz('Europe/Paris')",
        "SELECT mean(\"usage\") FROM \"cpu\" WHERE (\"host\" = 'b') AND time >= 1700000150000ms and time <= 1700000330000ms GROUP BY time(30s) fill(none)",
        "SELECT mean(\"usage\") FROM \"cpu\" WHERE (\"host\" = 'b') AND time >= 1700000150000ms and time <= 1700000330000ms GROUP BY time(30s) fill(0)",
        "SELECT mean(\"usage\") FROM \"cpu\" WHERE (\"host\" = 'b') AND time >= 1700000150000ms and time <= 1700000330000ms GROUP BY time(30s) fill(previous)",
        "SELECT mean(\"usage\") FROM \"cpu\" WHERE (\"host\" = 'b') AND time >= 1700000150000ms and time <= 1700000330000ms GROUP BY time(30s) fill(linear)",
        "SELECT median(\"usage\") FROM \"cpu\" WHERE time >= 1700000000000ms and time <= 1700000590000ms GROUP BY time(1m), \"host\" fill(null)",
        "SELECT count(\"usage\") FROM \"cpu\" WHERE (\"host\" = 'b') AND time >= 1700000150000ms and time <= 1700000330000ms GROUP BY time(30s) fill(null)",
        "SELECT sum(\"load\") FROM \"cpu\" WHERE time >= 1700000000000ms and time <= 1700000590000ms GROUP BY time(1m) fill(null)",
        "SELECT min(\"usage\"), max(\"usage\") FROM \"cpu\" WHERE time >= 1700000000000ms and time <= 1700000590000ms GROUP BY time(1m), \"host\" fill(null)",
        "SELECT first(\"usage\"), last(\"usage\") FROM \"cpu\" WHERE time >= 1700000000000ms and time <= 1700000590000ms GROUP BY time(1m), \"host\" fill(null)",
        "SELECT spread(\"usage\"), stddev(\"usage\") FROM \"cpu\" WHERE time >= 1700000000000ms and time <= 1700000590000ms GROUP BY time(2m), \"host\" fill(null)",
        "SELECT percentile(\"usage\", 95) FROM \"cpu\" WHERE time >= 1700000000000ms and time <= 1700000590000ms GROUP BY time(2m), \"host\" fill(null)",
        "SELECT distinct(\"status\") FROM \"cpu\" WHERE (\"host\" = 'a') AND time >= 1700000000000ms and time <= 1700000590000ms GROUP BY time(5m) fill(null)",
        "SELECT mean(\"usage\") * 8 FROM \"cpu\" WHERE time >= 1700000000000ms and time <= 1700000590000ms GROUP BY time(1m), \"host\" fill(null)",
        "SELECT mean(\"usage\") AS \"avg\", max(\"usage\") AS \"peak\" FROM \"cpu\" WHERE (\"host\" = 'o\\'brien') AND time >= 1700000000000ms and time <= 1700000590000ms GROUP BY time(1m) fill(null)",
        "SELECT mean(\"usage\") FROM \"cpu\" WHERE (\"host\" =~ /^(a|b)$/) AND time >= now() - 6h GROUP BY time(10s), \"host\" fill(null)",
    ];
}
