// Writes points through the official InfluxDB 2.x JavaScript client, as a user's app would.
// Usage: node write.mjs <url> <token> <bucket>
import { InfluxDB, Point } from '@influxdata/influxdb-client';

const [url, token, bucket] = process.argv.slice(2);
const writeApi = new InfluxDB({ url, token }).getWriteApi('any-org', bucket, 'ms');
for (let i = 0; i < 50; i++) {
  writeApi.writePoint(
    new Point('js_env')
      .tag('room', i % 2 === 0 ? 'kitchen' : 'hall')
      .floatField('temp', 20 + i / 10)
      .intField('count', i)
      .booleanField('ok', i % 3 === 0)
      .stringField('note', `say "hi", i=${i}`)
      .timestamp(new Date(1700000000000 + i * 1000)),
  );
}
try {
  await writeApi.close();
  console.log('written 50');
} catch (error) {
  console.error('write failed:', error);
  process.exit(1);
}
