// pcs-node console: polls /v1/status (the node's Status model) and
// renders it. No request leaves the node; no build step.
"use strict";
(function () {
  const POLL_MS = 2000;
  const charts = {}; // pipeline name -> uPlot
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const int = (n) => Number(n || 0).toLocaleString("en-US");
  // num formats a count with its unit, singular for 1 ("1 partition").
  const num = (n, unit) => int(n) + " " + (Number(n) === 1 && unit.endsWith("s") ? unit.slice(0, -1) : unit);
  function bytes(n) {
    n = Number(n || 0);
    const u = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n.toFixed(0) : n.toFixed(1)) + " " + u[i];
  }
  function rate(x, unit) {
    x = Number(x || 0);
    return (x >= 100 ? Math.round(x).toLocaleString("en-US") : x.toFixed(1)) + " " + unit;
  }
  function secs(s) {
    s = Number(s || 0);
    if (s < 1) return (s * 1000).toFixed(0) + " ms";
    if (s < 120) return s.toFixed(1) + " s";
    if (s < 7200) return (s / 60).toFixed(1) + " min";
    return (s / 3600).toFixed(1) + " h";
  }
  const ago = (t, now) => secs((now - new Date(t)) / 1000) + " ago";
  const kpi = (key, label, value, raw, cls) =>
    `<div class="kpi ${cls || ""}"><div class="l">${esc(label)}</div><div class="v" data-k="${key}" data-v="${esc(raw)}">${esc(value)}</div></div>`;

  function fleet(st) {
    const now = new Date(st.time);
    const c = st.catalog;
    let h = `<h2>Fleet</h2>`;
    if (!c) {
      return h + `<p class="mute" data-k="catalog">No catalog on this node ([catalog] is not set): it runs alone, at least once; the counts below are this node's.</p>`;
    }
    const voters = (c.servers || []).filter((s) => s.suffrage === "Voter").length;
    h += `<div class="row">` +
      kpi("raft_state", "this node", c.state.toLowerCase(), c.state) +
      kpi("leader", "raft leader", c.leader || "none", c.leader) +
      kpi("term", "term", "term " + int(c.term), c.term) +
      kpi("applied", "applied / last index", int(c.applied_index) + " / " + int(c.last_index) + " entries", c.applied_index) +
      kpi("members", "members", num((c.servers || []).length, "nodes") + " (" + voters + " voters)", (c.servers || []).length) +
      `</div>`;
    const suffrage = {};
    (c.servers || []).forEach((s) => { suffrage[s.id] = s; });
    h += `<h3>Nodes</h3><table><thead><tr><th>node</th><th>role</th><th>raft address</th><th>http</th><th>last heartbeat</th><th>joined</th></tr></thead><tbody>`;
    (c.nodes || []).forEach((n) => {
      let role = suffrage[n.id] ? suffrage[n.id].suffrage.toLowerCase() : "not a member";
      if (n.id === c.leader) role += ", leader";
      h += `<tr><td>${esc(n.id)}</td><td>${esc(role)}</td><td>${esc(n.raft_addr || "-")}</td><td>${esc(n.http_addr || "-")}</td>` +
        `<td>${n.last_heartbeat && !n.last_heartbeat.startsWith("0001") ? ago(n.last_heartbeat, now) : "never"}</td>` +
        `<td>${n.joined && !n.joined.startsWith("0001") ? esc(new Date(n.joined).toLocaleString()) : "-"}</td></tr>`;
    });
    h += `</tbody></table>`;
    const owners = [];
    (c.pipelines || []).forEach((p) => (p.shards || []).forEach((s) => owners.push([p.name, s])));
    if (owners.length) {
      h += `<h3>Shard owners</h3><table><thead><tr><th>pipeline</th><th>shard</th><th>owner</th><th>epoch</th></tr></thead><tbody>`;
      owners.forEach(([p, s]) => { h += `<tr><td>${esc(p)}</td><td>shard ${s.shard}</td><td>${esc(s.node)}</td><td>epoch ${int(s.epoch)}</td></tr>`; });
      h += `</tbody></table>`;
    }
    return h;
  }

  function graph(p) {
    const io = (title, lines) => `<div class="node io"><b>${esc(title)}</b>${lines.map((l) => `<div class="f">${esc(l)}</div>`).join("")}</div>`;
    const fields = (label, xs) => xs && xs.length ? `<div class="f">${label}: <em>${xs.map(esc).join(", ")}</em></div>` : "";
    let h = `<div class="graph" data-k="plan">`;
    h += `<div class="col">${io("input", (p.input_subjects || []).map((s) => "subject " + s).concat(["stream " + p.input_stream]))}</div>`;
    (p.plan || []).forEach((stage, i) => {
      h += `<div class="arrow">→</div><div class="col" title="stage ${i + 1}">`;
      stage.systems.forEach((s) => {
        h += `<div class="node" data-system="${esc(s.name)}"><b>${esc(s.name)}</b>${fields("reads", s.reads)}${fields("writes", s.writes)}</div>`;
      });
      h += `</div>`;
    });
    h += `<div class="arrow">→</div><div class="col">${io("output", ["subject " + p.output_subject])}</div></div>`;
    return h + `<div class="mute">${(p.plan || []).length} stages; systems in one column run concurrently.</div>`;
  }

  function stateTable(p, now) {
    const rows = [];
    rows.push(["fetching", p.paused ? `<span class="badge warn" data-k="paused">paused</span> ${esc(p.paused_reason || "")}` : `<span class="badge ok" data-k="paused">running</span>`]);
    rows.push(["consumer", `${num(p.redelivered, "partitions")} redelivered` + (p.error ? ` <span class="err">${esc(p.error)}</span>` : "")]);
    if (p.watermark) {
      rows.push(["watermark", `${esc(new Date(p.watermark.time).toISOString())}, lag ${secs(p.watermark.lag_seconds)}`]);
    } else {
      rows.push(["watermark", `<span class="mute">none${p.window ? " yet" : " (no window system)"}</span>`]);
    }
    if (p.window) {
      const w = p.window;
      let s = `${num(w.open_windows, "open windows")}, ${num(w.keys, "keys")}, ${num(w.late_rows, "late rows")}`;
      if (w.shards) s += `; ${num((w.owned_shards || []).length, "of")} ${num(w.shards, "shards")} owned here`;
      rows.push(["window", s]);
    }
    const c = p.checkpoint;
    rows.push(["last checkpoint", c ? `${secs(c.age_seconds)} ago, ${bytes(c.bytes)}, took ${secs(c.duration_seconds)}; ${num(p.counters.checkpoints, "checkpoints")} here`
      : `<span class="mute">none${p.counters.checkpoints ? "" : " (stateless or not yet)"}</span>`]);
    return `<table><tbody>${rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join("")}</tbody></table>`;
  }

  function dlq(p, now) {
    const d = p.dead_letters || {};
    let h = `<h3>Dead letters: <span data-k="dlq_messages" data-v="${d.messages || 0}">${num(d.messages, "messages")}</span> in ${esc(d.stream)}</h3>`;
    if (d.error) h += `<div class="err">${esc(d.error)}</div>`;
    const by = (p.counters && p.counters.partitions_dead_lettered_by_reason) || {};
    h += `<div class="mute">dead-lettered by this node: ${Object.keys(by).sort().map((r) => `${esc(r)} ${num(by[r], "partitions")}`).join(", ")}</div>`;
    if (!(d.latest || []).length) return h + `<p class="mute">None.</p>`;
    h += `<table class="dlq"><thead><tr><th>seq</th><th>when</th><th>partition</th><th>reason</th><th>error</th><th>deliveries</th><th>size</th><th>node</th></tr></thead><tbody>`;
    d.latest.forEach((m) => {
      h += `<tr><td>#${int(m.seq)}</td><td>${ago(m.time, now)}</td><td><code>${esc(m.partition)}</code></td><td><span class="badge bad">${esc(m.reason)}</span></td>` +
        `<td class="msg" title="${esc(m.error)}">${esc(m.error.length > 140 ? m.error.slice(0, 140) + "…" : m.error)}</td><td>${num(m.deliveries, "×")}</td><td>${bytes(m.bytes)}</td><td>${esc(m.node)}</td></tr>`;
    });
    return h + `</tbody></table>`;
  }

  function fleetCounts(st, name) {
    const c = st.catalog && (st.catalog.pipelines || []).find((x) => x.name === name);
    if (!st.catalog) return "";
    const k = (c && c.counters) || {};
    return `<h3>Fleet (catalog)</h3><div class="row">` +
      kpi("fleet_done", "done", num(k.done, "partitions"), k.done || 0) +
      kpi("fleet_failed", "failed", num(k.failed, "partitions"), k.failed || 0, k.failed ? "warn" : "") +
      kpi("fleet_dead", "dead-lettered", num(k.dead_lettered, "partitions"), k.dead_lettered || 0, k.dead_lettered ? "bad" : "") +
      kpi("fleet_rows", "rows done", num(k.rows, "rows"), k.rows || 0) +
      kpi("fleet_bytes", "bytes done", bytes(k.bytes), k.bytes || 0) + `</div>`;
  }

  function pipeline(st, p) {
    const now = new Date(st.time);
    const c = p.counters;
    const last = (p.rates || []).length ? p.rates[p.rates.length - 1] : {};
    let h = `<h2>${esc(p.name)} ${p.paused ? '<span class="badge warn">paused</span>' : '<span class="badge ok">running</span>'}</h2>`;
    h += `<div class="mute">${(p.input_subjects || []).map(esc).join(", ")} → ${esc(p.output_subject)}</div>`;
    h += `<h3>This node</h3><div class="row">` +
      kpi("partitions_processed", "processed", num(c.partitions_processed, "partitions"), c.partitions_processed) +
      kpi("partitions_failed", "failed (retried)", num(c.partitions_failed, "partitions"), c.partitions_failed, c.partitions_failed ? "warn" : "") +
      kpi("partitions_dead_lettered", "dead-lettered", num(c.partitions_dead_lettered, "partitions"), c.partitions_dead_lettered, c.partitions_dead_lettered ? "bad" : "") +
      kpi("in_flight", "in flight (fleet)", num(p.in_flight, "partitions"), p.in_flight) +
      kpi("pending", "pending (lag)", num(p.pending, "partitions"), p.pending, p.pending ? "warn" : "") +
      `</div><div class="row gap">` +
      kpi("rows_in", "rows in", num(c.rows_in, "rows"), c.rows_in) +
      kpi("rows_out", "rows out", num(c.rows_out, "rows"), c.rows_out) +
      kpi("bytes_in", "bytes in", bytes(c.bytes_in), c.bytes_in) +
      kpi("rows_per_second", "rows in now", rate(last.rows_in_per_second, "rows/s"), last.rows_in_per_second || 0) +
      kpi("bytes_per_second", "bytes in now", bytes(last.bytes_in_per_second) + "/s", last.bytes_in_per_second || 0) +
      `</div>`;
    h += fleetCounts(st, p.name);
    h += `<div class="grid2"><div><h3>Throughput, last ${secs((p.rates || []).length)} (rows/s, MiB/s)</h3><div class="chart" data-k="chart"></div>` +
      `<h3>Plan</h3>${graph(p)}</div><div><h3>State</h3>${stateTable(p, now)}</div></div>${dlq(p, now)}`;
    return h;
  }

  function chart(el, p) {
    const r = p.rates || [];
    const data = [r.map((s) => new Date(s.time).getTime() / 1000), r.map((s) => s.rows_in_per_second), r.map((s) => s.rows_out_per_second),
      r.map((s) => s.bytes_in_per_second / 1048576)];
    let u = charts[p.name];
    const width = Math.max(300, el.clientWidth || 600);
    if (!u || !el.contains(u.root)) {
      if (u) u.destroy();
      u = new uPlot({
        width, height: 200,
        series: [{}, { label: "rows in", stroke: "#2f6fde", width: 2, value: (_, v) => v == null ? "-" : rate(v, "rows/s") },
          { label: "rows out", stroke: "#1a8a4a", width: 2, value: (_, v) => v == null ? "-" : rate(v, "rows/s") },
          { label: "bytes in", stroke: "#c77700", width: 1.5, scale: "mib", value: (_, v) => v == null ? "-" : v.toFixed(2) + " MiB/s" }],
        axes: [{}, { label: "rows/s", size: 60 }, { side: 1, scale: "mib", label: "MiB/s", grid: { show: false } }],
      }, data, el);
      charts[p.name] = u;
    } else {
      u.setData(data);
      if (Math.abs(u.width - width) > 4) u.setSize({ width, height: 200 });
    }
    el.dataset.points = String(data[0].length);
  }

  function render(st) {
    $("node").textContent = st.node;
    $("broker").textContent = st.broker ? "broker " + st.broker : "";
    $("updated").textContent = "updated " + new Date(st.time).toLocaleTimeString();
    $("fleet").innerHTML = fleet(st);
    const root = $("pipelines");
    const seen = {};
    (st.pipelines || []).forEach((p) => {
      seen[p.name] = true;
      let card = root.querySelector(`[data-pipeline="${CSS.escape(p.name)}"]`);
      if (!card) {
        card = document.createElement("section");
        card.className = "card";
        card.dataset.pipeline = p.name;
        card.innerHTML = `<div class="body"></div>`;
        root.appendChild(card);
      }
      // Keep the chart's element (and its uPlot) across refreshes.
      const old = card.querySelector('[data-k="chart"]');
      const body = card.querySelector(".body");
      body.innerHTML = pipeline(st, p);
      const slot = body.querySelector('[data-k="chart"]');
      if (old) slot.replaceWith(old);
      chart(old || slot, p);
    });
    root.querySelectorAll("[data-pipeline]").forEach((el) => { if (!seen[el.dataset.pipeline]) el.remove(); });
    document.body.dataset.status = st.time; // the time of the status shown
  }

  let timer = null;
  async function poll() {
    try {
      const res = await fetch("/v1/status", { cache: "no-store" });
      if (!res.ok) throw new Error(res.status + " " + res.statusText);
      render(await res.json());
    } catch (e) {
      $("updated").textContent = "cannot reach the node: " + e.message;
    }
    if ($("live").checked) timer = setTimeout(poll, POLL_MS);
  }
  $("live").addEventListener("change", () => { clearTimeout(timer); if ($("live").checked) poll(); });
  poll();
})();
