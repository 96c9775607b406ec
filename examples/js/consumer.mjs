// A consumer of a PCS sink subject (docs/wire-format.md) with the stock
// clients: nats (JetStream) and apache-arrow (tableFromIPC).
//
//   node consumer.mjs --server nats://127.0.0.1:4222 --subject flights.enriched --durable billing [--sum delay,distance]
//
// It reads through a durable pull consumer filtered on the sink subject
// (the sink's stream also holds fence messages, which are not outputs),
// follows claim checks (Pcs-Object, digest checked), regroups the parts of
// an output (Pcs-Part k/n, Pcs-Part-Of) and acknowledges an output's
// messages once the output is handled. A run stops when nothing is pending.
import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { connect, AckPolicy, DeliverPolicy } from 'nats';
import { tableFromIPC, Table } from 'apache-arrow';

/** outputs yields every output on subject once per durable: {id, table, messages, parts, claimChecks}. Call ack() when done with it. */
export async function* outputs(nc, { subject, durable, idleMs = 1000 }) {
  const jsm = await nc.jetstreamManager();
  const stream = await jsm.streams.find(subject);
  // Idempotent: the same config again is a no-op; another filter is an error.
  await jsm.consumers.add(stream, {
    durable_name: durable, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, filter_subject: subject,
  });
  const consumer = await nc.jetstream().consumers.get(stream, durable);
  const groups = new Map(); // Pcs-Part-Of -> {n, tables: [], msgs: []}
  for (;;) {
    // A byte bound, so that 1 MiB messages never make this a slow consumer.
    const batch = await consumer.fetch({ max_bytes: 16 << 20, expires: idleMs });
    let got = 0;
    for await (const m of batch) {
      got++;
      const table = await decode(nc, m);
      const part = m.headers?.get('Pcs-Part');
      if (!part) {
        yield output(m.headers?.get('Nats-Msg-Id') ?? `${stream}/${m.seq}`, table, [m]);
        continue;
      }
      const [k, n] = part.split('/').map(Number);
      const of = m.headers.get('Pcs-Part-Of');
      const g = groups.get(of) ?? { n, tables: [], msgs: [] };
      groups.set(of, g);
      g.tables[k - 1] = table;
      g.msgs.push(m);
      if (g.msgs.length === g.n) {
        groups.delete(of);
        yield output(of, new Table(g.tables.flatMap((t) => t.batches)), g.msgs);
      }
    }
    if (got === 0 && groups.size === 0 && (await consumer.info()).num_pending === 0) return;
  }
}

function output(id, table, msgs) {
  return {
    id, table, messages: msgs.length, parts: msgs[0].headers?.has('Pcs-Part') ? msgs.length : 0,
    claimChecks: msgs.filter((m) => m.headers?.has('Pcs-Object')).length,
    ack: () => msgs.forEach((m) => m.ack()),
  };
}

/** decode reads one message's table: the body, or the claim-checked object. */
async function decode(nc, m) {
  const id = m.headers?.get('Nats-Msg-Id') ?? `seq ${m.seq}`;
  let body = m.data;
  const object = m.headers?.get('Pcs-Object');
  if (object) body = await fetchObject(nc, object, id);
  let table;
  try {
    table = tableFromIPC(body);
  } catch (err) {
    if (/codec/i.test(err.message)) {
      throw new Error(`${id}: the body is lz4- or zstd-compressed and no codec is registered: register one with ` +
        `compressionRegistry.set(CompressionType.LZ4_FRAME | ZSTD, {decode}) from apache-arrow, or set the pipeline's ` +
        `output.compression to none (${err.message})`);
    }
    throw new Error(`${id}: not an Arrow IPC stream: ${err.message}`);
  }
  const rows = m.headers?.get('Pcs-Rows');
  if (rows !== undefined && rows !== '' && Number(rows) !== table.numRows) {
    throw new Error(`${id}: Pcs-Rows says ${rows}, the body has ${table.numRows} rows`);
  }
  return table;
}

/** fetchObject gets the body a Pcs-Object header points to and checks its size and SHA-256. */
async function fetchObject(nc, header, id) {
  // "<bucket>/<name> <digest> <size>": the name may hold spaces, digest and size are the last two fields.
  const fields = header.split(' ');
  const [digest, size] = fields.slice(-2);
  const path = fields.slice(0, -2).join(' ');
  const slash = path.indexOf('/');
  const bucket = path.slice(0, slash), name = path.slice(slash + 1);
  const os = await nc.jetstream().views.os(bucket);
  const data = await os.getBlob(name);
  if (data === null) throw new Error(`${id}: claim-checked object ${bucket}/${name} is missing`);
  const sum = 'SHA-256=' + createHash('sha256').update(data).digest('base64url').padEnd(44, '=');
  if (data.length !== Number(size) || sum !== digest) {
    throw new Error(`${id}: object ${bucket}/${name}: ${data.length} bytes ${sum}, header says ${size} bytes ${digest}`);
  }
  return data;
}

/** sum adds the non-null values of a numeric column (BigInt for 64-bit integers). */
export function sum(table, column) {
  const v = table.getChild(column);
  if (!v) throw new Error(`no column ${column}`);
  let s = 0n;
  for (const x of v) if (x !== null) s += BigInt(x);
  return s;
}

async function main() {
  const { values } = parseArgs({
    options: { server: { type: 'string', default: 'nats://127.0.0.1:4222' }, subject: { type: 'string' },
      durable: { type: 'string' }, sum: { type: 'string', default: '' } },
  });
  if (!values.subject || !values.durable) throw new Error('usage: node consumer.mjs --subject SUBJECT --durable NAME [--server URL] [--sum COL,COL]');
  const started = Date.now();
  const nc = await connect({ servers: values.server.split(',') });
  const cols = values.sum ? values.sum.split(',') : [];
  const total = { outputs: 0, messages: 0, parts: 0, claimChecks: 0, rows: 0, sums: Object.fromEntries(cols.map((c) => [c, 0n])) };
  for await (const out of outputs(nc, { subject: values.subject, durable: values.durable })) {
    total.outputs++;
    total.messages += out.messages;
    total.parts += out.parts;
    total.claimChecks += out.claimChecks;
    total.rows += out.table.numRows;
    for (const c of cols) total.sums[c] += sum(out.table, c);
    out.ack();
  }
  await nc.drain();
  total.ms = Date.now() - started;
  console.log(JSON.stringify(total, (_, v) => (typeof v === 'bigint' ? v.toString() : v)));
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(`consumer: ${err.message}`);
    process.exit(1);
  });
}
