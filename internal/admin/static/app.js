// The isle dashboard: one EventSource, plain DOM, no dependencies.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const token = new URLSearchParams(location.search).get("token");
  const url = "events" + (token ? "?token=" + encodeURIComponent(token) : "");
  const history = { msg: [], rst: [], fuel: [] };
  const keep = 120, showCrashes = 12;
  let prev = null, sortKey = "fuel", last = null;

  function bytes(n) {
    const u = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : n) + " " + u[i];
  }
  function num(n) { return Number(n).toLocaleString("en"); }
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function chart(name, v) {
    const h = history[name];
    h.push(v);
    if (h.length > keep) h.shift();
    const max = Math.max(1, ...h);
    const span = Math.max(h.length, 30) - 1;
    const pts = h.map((y, i) => (i * 120 / span).toFixed(1) + "," + (58 - y / max * 56).toFixed(1));
    $("c-" + name).firstElementChild.setAttribute("points", pts.join(" "));
    $("v-" + name).textContent = num(Math.round(v)) + " (max " + num(Math.round(max)) + ")";
  }

  function stats(f) {
    const t = f.totals, box = $("stats");
    box.replaceChildren();
    const add = (label, v) => { const s = el("div", "stat"); s.append(el("b", "", v), label); box.append(s); };
    add("processes", num(t.processes));
    for (const [s, n] of Object.entries(f.states).sort()) add(s, num(n));
    add("memory", bytes(t.memory) + " / " + bytes(t.memory_limit));
    add("messages sent", num(t.sent));
    add("spawns", num(t.spawns));
    add("exits", num(t.exits));
    add("restarts", num(t.restarts));
    add("queued", num(t.queued));
  }

  function tree(nodes, ul) {
    for (const n of nodes) {
      const li = el("li");
      li.dataset.path = n.path || n.name;
      if (n.kind === "supervisor") {
        li.append(el("span", "sup" + (n.ended ? " ended" : ""), "▾ " + n.name), " " + (n.strategy || ""));
      } else {
        li.className = "service";
        li.append(el("span", n.ended ? "ended" : "", n.path || n.name), " ",
          el("span", "pid", n.pid ? "pid " + n.pid : "restarting"),
          " restarts " + n.restarts);
      }
      if (n.children && n.children.length) {
        const sub = el("ul");
        tree(n.children, sub);
        li.append(sub);
      }
      ul.append(li);
    }
  }

  function procs(f) {
    const rows = f.top.slice().sort((a, b) => {
      const x = a[sortKey], y = b[sortKey];
      return typeof x === "string" ? String(x).localeCompare(y) : (y || 0) - (x || 0);
    });
    const body = $("procs");
    body.replaceChildren();
    for (const p of rows) {
      const tr = el("tr");
      tr.dataset.pid = p.pid;
      for (const v of [p.pid, p.module, p.service || "", p.state, num(p.fuel), bytes(p.memory), num(p.queued)]) tr.append(el("td", "", v));
      body.append(tr);
    }
    const r = f.rest;
    $("rest").textContent = r.count > 0
      ? "(top " + f.top.length + "; " + num(r.count) + " more: fuel " + num(r.fuel) + ", " + bytes(r.memory) + ", " + num(r.queued) + " queued)"
      : "";
  }

  function crashes(f) {
    const box = $("crashes");
    if (!f.crashes || !f.crashes.length) { box.replaceChildren(el("em", "", "none")); return; }
    box.replaceChildren();
    const shown = f.crashes.slice(-showCrashes).reverse();
    for (const c of shown) {
      const d = el("div", "crash");
      d.dataset.service = c.service;
      d.append(el("b", "", c.service), " ", el("span", "pid", c.pid ? "pid " + c.pid + " " + (c.module || "") : ""),
        " " + new Date(c.time).toLocaleTimeString() + ": " + c.reason);
      if (c.trace) d.append(" ", el("code", "trace", "trace " + c.trace + (c.tag ? " tag " + c.tag : "")));
      box.append(d);
    }
    if (f.crashes.length > shown.length) box.append(el("em", "", (f.crashes.length - shown.length) + " older reports not shown"));
  }

  function render(f) {
    last = f;
    if (prev) {
      const dt = Math.max((f.t - prev.t) / 1000, 0.001);
      chart("msg", (f.totals.sent + f.totals.host_sent - prev.totals.sent - prev.totals.host_sent) / dt);
      chart("rst", (f.totals.restarts - prev.totals.restarts) / dt);
      chart("fuel", (f.totals.fuel - prev.totals.fuel) / dt);
    }
    prev = f;
    stats(f);
    const ul = $("tree");
    ul.replaceChildren();
    if (f.tree && f.tree.length) tree(f.tree, ul); else ul.append(el("li", "", "no supervisor"));
    procs(f);
    crashes(f);
    $("status").textContent = "live · " + new Date(f.t).toLocaleTimeString();
  }

  for (const th of document.querySelectorAll("th[data-k]")) {
    th.addEventListener("click", () => {
      sortKey = th.dataset.k;
      for (const o of document.querySelectorAll("th")) o.classList.toggle("on", o === th);
      if (last) procs(last);
    });
  }

  const es = new EventSource(url);
  es.addEventListener("frame", (e) => render(JSON.parse(e.data)));
  es.onerror = () => { $("status").textContent = "disconnected; retrying…"; };
})();
