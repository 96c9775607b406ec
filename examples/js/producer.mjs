// A producer of PCS input partitions (docs/wire-format.md) with the stock
// clients: an apache-arrow Table becomes one message, an Arrow IPC stream,
// with the headers PCS reads (Nats-Msg-Id, Pcs-Rows, Pcs-Schema).
//
//   node producer.mjs --server nats://127.0.0.1:4222 --subject flights.raw --source js-demo [--rows 1000]
//
// publishes a small table of flights (the input schema of
// examples/flights/node.toml) as partition <source>/1 and prints its rows
// and the sums of delay and distance as one JSON line.
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { connect, headers } from 'nats';
import { Table, tableToIPC, vectorFromArray, TimestampMicrosecond, Int64, LargeUtf8 } from 'apache-arrow';
import { fingerprint } from './fingerprint.mjs';

/** publishTable publishes table to subject as partition "<source>/<seq>" and returns the JetStream ack. */
export async function publishTable(nc, subject, table, { source, seq }) {
  const body = tableToIPC(table, 'stream'); // the IPC stream format, uncompressed
  const h = headers();
  h.set('Pcs-Rows', String(table.numRows));
  h.set('Pcs-Schema', fingerprint(table.schema));
  // Above max_payload the server refuses the message: cut the table by rows first.
  if (body.length + 1024 > nc.info.max_payload) {
    throw new Error(`producer: ${body.length} bytes is more than max_payload ${nc.info.max_payload}: publish fewer rows per partition`);
  }
  // msgID sets Nats-Msg-Id: a retry or a replay under the same id is dropped as a duplicate.
  const ack = await nc.jetstream().publish(subject, body, { msgID: `${source}/${seq}`, headers: h });
  if (!ack.stream) throw new Error(`producer: no stream acknowledged ${source}/${seq}`);
  return ack;
}

/** flights builds n rows of the flights input schema, deterministic. */
export function flights(n) {
  const airports = ['LAS', 'PHL', 'ATL', 'SAV', 'MCI', 'MDW', 'SEA', 'BOS'];
  const t0 = Date.UTC(2001, 0, 1);
  const col = (f) => Array.from({ length: n }, (_, i) => f(i));
  return new Table({
    date: vectorFromArray(col((i) => new Date(t0 + i * 60_000)), new TimestampMicrosecond()),
    delay: vectorFromArray(col((i) => BigInt((i % 90) - 20)), new Int64()),
    distance: vectorFromArray(col((i) => BigInt(100 + (i % 2000))), new Int64()),
    origin: vectorFromArray(col((i) => airports[i % 8]), new LargeUtf8()),
    destination: vectorFromArray(col((i) => airports[(i + 3) % 8]), new LargeUtf8()),
  });
}

async function main() {
  const { values } = parseArgs({
    options: { server: { type: 'string', default: 'nats://127.0.0.1:4222' }, subject: { type: 'string' },
      source: { type: 'string', default: 'js-producer' }, rows: { type: 'string', default: '1000' } },
  });
  if (!values.subject) throw new Error('usage: node producer.mjs --subject SUBJECT [--server URL] [--source ID] [--rows N]');
  const started = Date.now();
  const nc = await connect({ servers: values.server.split(',') });
  const table = flights(Number(values.rows));
  const ack = await publishTable(nc, values.subject, table, { source: values.source, seq: 1 });
  await nc.drain();
  const sums = {};
  for (const c of ['delay', 'distance']) sums[c] = table.getChild(c).toArray().reduce((a, b) => a + b, 0n).toString();
  console.log(JSON.stringify({ id: `${values.source}/1`, stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate,
    rows: table.numRows, sums, ms: Date.now() - started }));
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(`producer: ${err.message}`);
    process.exit(1);
  });
}
