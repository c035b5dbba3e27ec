/**
 * The dashboard: one self-contained HTML page (no build step, no external assets) that follows
 * `/dashboard/events` (server-sent events of the scheduler's `monitor` view) and draws the
 * engines, the priority queues, the active programs and, for the program clicked, the timeline
 * of its calls across engines. Element ids and `data-*` attributes are stable for tests.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>autellix dashboard</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #222; }
  h1 { font-size: 1.3rem; margin: 0 0 .3rem; }
  h2 { font-size: 1.05rem; margin: 1.2rem 0 .4rem; }
  .meta { color: #666; }
  .grid { display: grid; grid-template-columns: 1fr 1fr; gap: 1.5rem; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .2rem .5rem; border-bottom: 1px solid #eee; white-space: nowrap; }
  th { font-weight: 600; color: #555; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .bar { display: inline-block; height: .7rem; background: #4a8; vertical-align: middle; }
  .bar.kv { background: #58c; }
  .bar.q { background: #bbb; }
  .bar.p { background: #e93; }
  #programs tbody tr { cursor: pointer; }
  #programs tbody tr:hover { background: #f4f8ff; }
  #programs tbody tr.selected { background: #e4eeff; }
  #timeline svg { border: 1px solid #eee; }
  .legend span { display: inline-block; margin-right: 1rem; }
  .swatch { display: inline-block; width: .8rem; height: .8rem; vertical-align: middle; margin-right: .3rem; }
  #error { color: #b00; }
</style>
</head>
<body>
<h1>autellix</h1>
<div class="meta">policy <b id="policy">?</b> · <span id="program-count">0</span> open programs · updated <span id="updated">never</span> (<span id="updates">0</span> updates) <span id="error"></span></div>
<div class="grid">
  <section>
    <h2>Engines</h2>
    <table id="engines"><thead><tr><th>engine</th><th>batch (running / slots)</th><th class="num">queued</th><th>KV used</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Priority queues</h2>
    <table id="levels"><thead><tr><th>level</th><th class="num">queued</th><th class="num">running</th><th class="num">preempted</th><th></th></tr></thead><tbody></tbody></table>
  </section>
</div>
<h2>Active programs <span class="meta">(click one for its timeline)</span></h2>
<table id="programs"><thead><tr><th>program</th><th>state</th><th class="num">level</th><th class="num">active calls</th><th class="num">completed</th><th class="num">attained service s</th><th class="num">wait s</th><th class="num">age s</th></tr></thead><tbody></tbody></table>
<h2>Timeline <span class="meta" id="timeline-title">(no program chosen)</span></h2>
<div class="legend"><span><i class="swatch" style="background:#bbb"></i>waiting</span><span><i class="swatch" style="background:#4a8"></i>running</span><span><i class="swatch" style="background:#e93"></i>preempted (waiting after running)</span></div>
<div id="timeline"></div>
<script>
(() => {
  const params = new URLSearchParams(location.search);
  let chosen = params.get('program');
  // With API keys on, the key rides in the URL: EventSource cannot set an Authorization header.
  const key = params.get('key');
  let source = null;
  const rows = new Map();
  let updates = 0;
  const $ = (id) => document.getElementById(id);
  const cell = (text, cls) => { const td = document.createElement('td'); td.textContent = text; if (cls) td.className = cls; return td; };
  const bar = (frac, cls, width) => { const s = document.createElement('span'); s.className = 'bar ' + (cls || ''); s.style.width = Math.round(Math.max(0, Math.min(1, frac)) * width) + 'px'; return s; };
  const fill = (tbody, rows) => { tbody.replaceChildren(...rows); };

  function render(m) {
    updates += 1;
    $('updates').textContent = String(updates);
    $('updated').textContent = new Date(m.atMs).toLocaleTimeString();
    $('policy').textContent = m.policy;
    $('program-count').textContent = String(m.programCount);
    $('error').textContent = '';
    fill($('engines').tBodies[0], m.engines.map((e) => {
      const tr = document.createElement('tr');
      tr.dataset.engine = e.engineId;
      const batch = cell(''); batch.append(bar(e.maxBatch > 0 ? e.running / e.maxBatch : 0, '', 120), ' ' + e.running + ' / ' + e.maxBatch);
      const kv = cell(''); kv.append(bar(e.kvUsed, 'kv', 120), ' ' + (e.kvUsed * 100).toFixed(1) + ' %');
      tr.append(cell(e.engineId), batch, cell(String(e.queued), 'num'), kv);
      return tr;
    }));
    const most = Math.max(1, ...m.levels.map((l) => l.queued + l.running + l.preempted));
    fill($('levels').tBodies[0], m.levels.map((l) => {
      const tr = document.createElement('tr');
      tr.dataset.level = String(l.level);
      const bars = cell('');
      bars.append(bar(l.running / most, '', 160), bar(l.queued / most, 'q', 160), bar(l.preempted / most, 'p', 160));
      tr.append(cell('Q' + l.level), cell(String(l.queued), 'num'), cell(String(l.running), 'num'), cell(String(l.preempted), 'num'), bars);
      return tr;
    }));
    // Rows are kept per program and updated in place, so a row being clicked is never replaced
    // under the pointer; clicks are handled once, on the table body.
    const seenRows = new Set();
    fill($('programs').tBodies[0], m.programs.map((p) => {
      let tr = rows.get(p.programId);
      if (!tr) {
        tr = document.createElement('tr');
        tr.dataset.program = p.programId;
        for (let i = 0; i < 8; i++) tr.append(cell('', i >= 2 ? 'num' : ''));
        rows.set(p.programId, tr);
      }
      seenRows.add(p.programId);
      tr.className = p.programId === chosen ? 'selected' : '';
      const values = [p.programId, p.state, p.level === undefined ? '-' : String(p.level), String(p.activeCalls), String(p.callsCompleted),
        p.service.toFixed(2), p.wait.toFixed(2), (p.ageMs / 1000).toFixed(1)];
      values.forEach((v, i) => { if (tr.cells[i].textContent !== v) tr.cells[i].textContent = v; });
      return tr;
    }));
    for (const id of [...rows.keys()]) if (!seenRows.has(id)) rows.delete(id);
    if (m.timeline) drawTimeline(m.timeline, m.atMs);
    else if (chosen) $('timeline-title').textContent = '(' + chosen + ': not known to the scheduler)';
  }

  function drawTimeline(t, now) {
    $('timeline-title').textContent = '(' + t.programId + (t.open ? '' : ', ended') + ': ' + t.calls.length + ' calls)';
    const ns = 'http://www.w3.org/2000/svg';
    let t0 = Infinity, t1 = 0;
    for (const c of t.calls) for (const s of c.segments) { t0 = Math.min(t0, s.fromMs); t1 = Math.max(t1, s.toMs ?? now); }
    if (!Number.isFinite(t0)) { $('timeline').replaceChildren(); return; }
    const span = Math.max(1, t1 - t0), W = 900, left = 150, row = 22;
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('width', String(left + W + 10));
    svg.setAttribute('height', String(t.calls.length * row + 24));
    t.calls.forEach((c, i) => {
      const y = i * row + 4;
      const label = document.createElementNS(ns, 'text');
      label.setAttribute('x', '4'); label.setAttribute('y', String(y + 13)); label.setAttribute('font-size', '12');
      label.textContent = c.callId + ' (' + c.threadId + ')' + (c.outcome ? ' ' + c.outcome : '');
      svg.append(label);
      let ran = false;
      for (const s of c.segments) {
        const r = document.createElementNS(ns, 'rect');
        const x = left + ((s.fromMs - t0) / span) * W;
        const w = Math.max(1, (((s.toMs ?? now) - s.fromMs) / span) * W);
        const phase = s.phase === 'running' ? 'running' : ran ? 'preempted' : 'waiting';
        if (s.phase === 'running') ran = true;
        r.setAttribute('x', String(x)); r.setAttribute('y', String(y)); r.setAttribute('width', String(w)); r.setAttribute('height', String(row - 6));
        r.setAttribute('fill', phase === 'running' ? '#4a8' : phase === 'preempted' ? '#e93' : '#bbb');
        r.dataset.phase = phase;
        r.dataset.call = c.callId;
        if (s.engineId) r.dataset.engine = s.engineId;
        const title = document.createElementNS(ns, 'title');
        title.textContent = c.callId + ': ' + phase + (s.engineId ? ' on ' + s.engineId : ' (not placed)') + ', ' + (((s.toMs ?? now) - s.fromMs) / 1000).toFixed(3) + ' s';
        r.append(title);
        svg.append(r);
      }
    });
    const axis = document.createElementNS(ns, 'text');
    axis.setAttribute('x', String(left)); axis.setAttribute('y', String(t.calls.length * row + 18)); axis.setAttribute('font-size', '11');
    axis.textContent = '0 s … ' + (span / 1000).toFixed(2) + ' s';
    svg.append(axis);
    $('timeline').replaceChildren(svg);
  }

  function connect() {
    if (source) source.close();
    const q = new URLSearchParams();
    if (chosen) q.set('program', chosen);
    if (key) q.set('key', key);
    source = new EventSource('/dashboard/events' + (q.size > 0 ? '?' + q.toString() : ''));
    source.onmessage = (e) => render(JSON.parse(e.data));
    source.addEventListener('problem', (e) => { $('error').textContent = JSON.parse(e.data).message; });
  }

  function choose(id) {
    chosen = id;
    const q = new URLSearchParams();
    q.set('program', id);
    if (key) q.set('key', key);
    history.replaceState(null, '', '?' + q.toString());
    connect();
  }

  $('programs').tBodies[0].addEventListener('click', (e) => {
    const tr = e.target.closest('tr[data-program]');
    if (tr) choose(tr.dataset.program);
  });
  connect();
})();
</script>
</body>
</html>
`;
