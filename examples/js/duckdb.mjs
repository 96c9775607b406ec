// DuckDB (@duckdb/node-api) reads Parquet files, such as the one
// `pcs consume --out` wrote, and prints their rows and column sums as one
// JSON line:
//
//   node duckdb.mjs --sum delay,distance enriched.parquet
//   node duckdb.mjs --sum delay,distance --where "distance > 0" flights-50k.parquet
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { sum: { type: 'string', default: '' }, where: { type: 'string', default: 'true' } },
});
if (positionals.length === 0) {
  console.error('usage: node duckdb.mjs [--sum COL,COL] [--where EXPR] FILE.parquet...');
  process.exit(2);
}
const started = Date.now();
const cols = values.sum ? values.sum.split(',') : [];
const files = positionals.map((f) => `'${f.replaceAll("'", "''")}'`).join(', ');
const sql = `SELECT count(*) AS rows${cols.map((c) => `, coalesce(sum("${c}"), 0)::VARCHAR AS "${c}"`).join('')}
  FROM read_parquet([${files}]) WHERE ${values.where}`;
const db = await DuckDBInstance.create(':memory:');
const conn = await db.connect();
const [row] = (await conn.runAndReadAll(sql)).getRowObjects();
conn.closeSync();
console.log(JSON.stringify({ rows: Number(row.rows), sums: Object.fromEntries(cols.map((c) => [c, row[c]])), ms: Date.now() - started }));
