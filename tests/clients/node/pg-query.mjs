// Reads through node-postgres (npm pg) as a Node.js app would: a plain query, a parameterised query (the extended
// protocol), and a write that must be refused. Prints one JSON line.
// Usage: node pg-query.mjs <port> <token>
import pg from 'pg';

const [port, password] = process.argv.slice(2);
const client = new pg.Client({ host: '127.0.0.1', port: Number(port), user: 'node', password, database: 'main' });
await client.connect();
try {
  const perHost = await client.query('SELECT host, count(*) AS n, sum(temp) AS total FROM cpu GROUP BY host ORDER BY host');
  const filtered = await client.query('SELECT count(*) AS n FROM cpu WHERE host = $1 AND temp >= $2', ['a', 50]);
  const first = await client.query('SELECT time, ok, note FROM cpu ORDER BY time LIMIT 1');
  let refused = null;
  try {
    await client.query("INSERT INTO cpu (host) VALUES ('x')");
  } catch (error) {
    refused = error.code;
  }
  console.log(JSON.stringify({
    perHost: perHost.rows,
    filtered: filtered.rows[0].n,
    first: { time: first.rows[0].time.toISOString(), ok: first.rows[0].ok, note: first.rows[0].note },
    refused,
  }));
} finally {
  await client.end();
}
