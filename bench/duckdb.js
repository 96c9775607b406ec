// DuckDB side of make bench (.ci/bench), through @duckdb/node-api
// installed by .ci/bench into PREFIX.
//
//   node duckdb.js PREFIX copy OUT.parquet SQL
//     runs COPY (SQL) TO OUT (FORMAT parquet) and prints "<ns> <rows>":
//     the COPY's wall time (node and DuckDB start-up excluded) and the
//     rows written.
//   node duckdb.js PREFIX check SQL
//     prints the first row of SQL's result, values separated by spaces
//     (the checks: row counts and sums over both sides' outputs).
const { createRequire } = require("module");
const [prefix, mode, ...args] = process.argv.slice(2);
const { DuckDBInstance } = createRequire(prefix + "/package.json")("@duckdb/node-api");
(async () => {
  const con = await (await DuckDBInstance.create(":memory:")).connect();
  if (mode === "copy") {
    const [output, query] = args;
    const t0 = process.hrtime.bigint();
    await con.run(`COPY (${query}) TO '${output}' (FORMAT parquet)`);
    const ns = process.hrtime.bigint() - t0;
    const rows = (await con.runAndReadAll(`SELECT count(*)::BIGINT FROM '${output}'`)).getRows()[0][0];
    console.log(`${ns} ${rows}`);
  } else if (mode === "check") {
    const row = (await con.runAndReadAll(args[0])).getRows()[0];
    console.log(row.map((v) => (v === null ? "null" : v.toString())).join(" "));
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
})().catch((e) => { console.error(e.message); process.exit(1); });
