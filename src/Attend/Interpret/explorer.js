// Attention views for Attend: head view, model view, rollout/flow heatmaps, summaries. No dependencies.
// Attend.render(root, data) draws the JSON of Explanation.ToJson(); Attend.live(form, input, error, root) asks /api/explain.
(function () {
  'use strict';
  const Attend = window.Attend = {};
  const SVG = 'http://www.w3.org/2000/svg';
  const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    for (const k of kids) e.append(k);
    return e;
  }
  function svg(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    return e;
  }
  const show = t => t === ' ' ? '␣' : t === '\n' ? '⏎' : t === '' ? '∅' : t;

  // viridis, five stops interpolated (as the PNG heatmaps)
  const STOPS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  function viridis(v) {
    const x = Math.min(Math.max(v, 0), 1) * (STOPS.length - 1), i = Math.min(Math.floor(x), STOPS.length - 2), f = x - i;
    const c = STOPS[i].map((a, k) => Math.round(a + (STOPS[i + 1][k] - a) * f));
    return `rgb(${c[0]},${c[1]},${c[2]})`;
  }

  // A heatmap on a canvas; with labels when cell ≥ 10 px. Scaled so that the largest value is full colour.
  function heatmap(m, rows, cols, cell, labels) {
    const left = labels ? 8 * Math.max(...rows.map(r => show(r).length)) + 10 : 0, top = labels ? 8 * Math.max(...cols.map(c => show(c).length)) + 10 : 0;
    const c = el('canvas', { width: left + cols.length * cell, height: top + rows.length * cell });
    const g = c.getContext('2d');
    let max = 1e-12;
    m.forEach(r => r.forEach(v => { if (v > max) max = v; }));
    m.forEach((r, i) => r.forEach((v, j) => { g.fillStyle = viridis(v / max); g.fillRect(left + j * cell, top + i * cell, cell, cell); }));
    if (labels) {
      g.fillStyle = '#222'; g.font = '12px monospace'; g.textBaseline = 'middle';
      g.textAlign = 'right';
      rows.forEach((r, i) => g.fillText(show(r), left - 4, top + i * cell + cell / 2));
      cols.forEach((t, j) => {
        g.save(); g.translate(left + j * cell + cell / 2, top - 4); g.rotate(-Math.PI / 2); g.textAlign = 'left'; g.fillText(show(t), 0, 0); g.restore();
      });
    }
    return c;
  }

  function mean(maps) {
    return maps[0].map((r, i) => r.map((_, j) => maps.reduce((s, m) => s + m[i][j], 0) / maps.length));
  }

  function headView(data, state) {
    const sec = el('section', { id: 'head-view' }, el('h2', {}, 'Head view'));
    const layer = el('select', { id: 'hv-layer' }), head = el('select', { id: 'hv-head' });
    data.views.forEach((v, i) => layer.append(el('option', { value: i }, v.label)));
    sec.append(el('div', { class: 'controls' }, el('label', {}, 'Layer ', layer), el('label', {}, 'Head ', head),
      el('span', { class: 'note' }, 'Lines: query (left) → key (right), opacity = weight. Hover a token to see its lines only.')));
    const box = el('div', { id: 'hv-svg' });
    sec.append(box);
    function heads() {
      const v = data.views[state.view];
      head.replaceChildren(el('option', { value: -1 }, 'all'), ...v.heads.map((h, n) => el('option', { value: n }, `${h}`)));
      head.value = String(state.head);
    }
    function draw() {
      const v = data.views[state.view];
      const rowH = 20, w = 560, xl = 150, xr = w - 150, n = Math.max(v.queries.length, v.keys.length);
      const s = svg('svg', { class: 'head-view', width: w, height: n * rowH + 30, 'data-view': state.view, 'data-head': state.head });
      s.append(Object.assign(svg('text', { x: xl, y: 12, 'text-anchor': 'end', fill: '#888' }), { textContent: v.kind === 'cross' ? 'output' : 'query' }));
      s.append(Object.assign(svg('text', { x: xr, y: 12, fill: '#888' }), { textContent: v.kind === 'cross' ? 'input' : 'key' }));
      const y = i => 30 + i * rowH + rowH / 2;
      const shown = state.head < 0 ? v.heads.map((_, n) => n) : [state.head];
      const lines = svg('g', { class: 'lines' });
      for (const n of shown)
        v.weights[n].forEach((row, i) => row.forEach((wt, j) => {
          lines.append(svg('line', {
            x1: xl + 6, y1: y(i), x2: xr - 6, y2: y(j), stroke: COLORS[v.heads[n] % COLORS.length],
            'stroke-opacity': wt, 'data-h': v.heads[n], 'data-q': i, 'data-k': j, 'data-w': wt,
          }));
        }));
      s.append(lines);
      const focus = i => lines.querySelectorAll('line').forEach(l => l.classList.toggle('dim', i !== null && l.dataset.q !== String(i)));
      v.queries.forEach((t, i) => {
        const e = Object.assign(svg('text', { x: xl, y: y(i) + 4, 'text-anchor': 'end', class: 'q', 'data-q': i }), { textContent: show(t) });
        e.addEventListener('mouseenter', () => { e.classList.add('active'); focus(i); });
        e.addEventListener('mouseleave', () => { e.classList.remove('active'); focus(null); });
        s.append(e);
      });
      v.keys.forEach((t, j) => s.append(Object.assign(svg('text', { x: xr, y: y(j) + 4, class: 'k', 'data-k': j }), { textContent: show(t) })));
      box.replaceChildren(s);
      document.querySelectorAll('#model-view .cell').forEach(c => c.classList.toggle('selected',
        c.dataset.view === String(state.view) && (state.head < 0 || c.dataset.head === String(state.head))));
      const sum = document.getElementById('summary-top');
      if (sum) sum.replaceWith(topTable(data, state));
    }
    layer.addEventListener('change', () => { state.view = +layer.value; state.head = Math.min(state.head, data.views[state.view].heads.length - 1); heads(); draw(); });
    head.addEventListener('change', () => { state.head = +head.value; draw(); });
    heads();
    state.redraw = () => { layer.value = String(state.view); heads(); draw(); };
    return { sec, draw };
  }

  function modelView(data, state) {
    const sec = el('section', { id: 'model-view' }, el('h2', {}, 'Model view'),
      el('p', { class: 'note' }, 'Every layer (rows) × head (columns); rows of a map are queries, columns keys. Click a map to see it in the head view.'));
    const maxHeads = Math.max(...data.views.map(v => v.heads.length));
    const grid = el('div', { class: 'grid', style: `grid-template-columns: max-content repeat(${maxHeads}, max-content)` });
    data.views.forEach((v, i) => {
      grid.append(el('div', { class: 'rowlabel' }, v.label));
      const cell = Math.max(2, Math.min(8, Math.floor(120 / Math.max(v.queries.length, v.keys.length))));
      for (let n = 0; n < maxHeads; n++) {
        if (n >= v.heads.length) { grid.append(el('div')); continue; }
        const c = el('div', { class: 'cell', 'data-view': i, 'data-head': n, title: `${v.label}, head ${v.heads[n]}, entropy ${v.entropy[n]} nats` },
          heatmap(v.weights[n], v.queries, v.keys, cell, false), `head ${v.heads[n]}`);
        c.addEventListener('click', () => { state.view = i; state.head = n; state.redraw(); document.getElementById('head-view').scrollIntoView(); });
        grid.append(c);
      }
    });
    sec.append(grid);
    return sec;
  }

  function stacksView(data) {
    const sec = el('section', { id: 'rollout' }, el('h2', {}, 'Rollout and flow'),
      el('p', { class: 'note' }, 'Abnar & Zuidema 2020: each layer\u2019s head average plus the residual (½·A + ½·I), multiplied through the layers (rollout) or as a max-flow network (flow, short inputs). Rows: positions after the last layer; columns: input tokens.'));
    const maps = el('div', { class: 'maps' });
    for (const s of data.stacks) {
      maps.append(el('figure', {}, el('figcaption', {}, `${s.stack}: rollout`), heatmap(s.rollout, s.tokens, s.tokens, 16, true)));
      if (s.flow) maps.append(el('figure', {}, el('figcaption', {}, `${s.stack}: flow`), heatmap(s.flow, s.tokens, s.tokens, 16, true)));
      if (data.patch_grid) {                              // image models: the [CLS] row of the rollout over the patch grid
        const [rows, cols] = data.patch_grid;
        const grid = Array.from({ length: rows }, (_, r) => s.rollout[0].slice(1 + r * cols, 1 + (r + 1) * cols));
        maps.append(el('figure', { id: 'patch-grid' }, el('figcaption', {}, `${s.stack}: [CLS] rollout over the ${rows}×${cols} patches`),
          heatmap(grid, grid.map((_, r) => `${r}`), grid[0].map((_, c) => `${c}`), Math.max(8, Math.floor(256 / Math.max(rows, cols))), true)));
      }
    }
    if (!data.stacks.length) maps.append(el('p', { class: 'note' }, 'No stack of self-attention layers in this model.'));
    sec.append(maps);
    return sec;
  }

  function topTable(data, state) {
    const v = data.views[state.view], m = state.head < 0 ? mean(v.weights) : v.weights[state.head];
    const t = el('table', { class: 'summary', id: 'summary-top' },
      el('tr', {}, el('th', {}, `${v.label}, ${state.head < 0 ? 'head average' : 'head ' + v.heads[state.head]}: query`), el('th', {}, 'attends most to')));
    m.forEach((row, i) => {
      const top = row.map((w, j) => [w, j]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, 3);
      t.append(el('tr', {}, el('td', {}, el('span', { class: 'tok' }, show(v.queries[i]))),
        el('td', {}, ...top.flatMap(([w, j]) => [el('span', { class: 'tok' }, show(v.keys[j])), ` ${w.toFixed(2)}   `]))));
    });
    return t;
  }

  function entropyTable(data) {
    const maxHeads = Math.max(...data.views.map(v => v.heads.length));
    const t = el('table', { class: 'summary', id: 'summary-entropy' },
      el('tr', {}, el('th', {}, 'entropy (nats)'), ...Array.from({ length: maxHeads }, (_, n) => el('th', {}, `head ${n}`)), el('th', {}, 'uniform')));
    data.views.forEach(v => t.append(el('tr', {}, el('td', {}, v.label), ...Array.from({ length: maxHeads }, (_, n) => el('td', {}, n < v.entropy.length ? v.entropy[n].toFixed(2) : '')),
      el('td', {}, Math.log(v.keys.length).toFixed(2)))));
    return t;
  }


  // Long inputs (data.long): the shown query's row over all S keys, one strip per layer × head, drawn from the rows the
  // kernel recomputed from its log-sum-exp. One zoom range [lo, hi) for every strip: wheel zooms around the pointer,
  // drag pans, the buttons zoom around the centre or onto the retrieval head's top key. The top keys are labelled.
  function longView(data) {
    const lc = data.long, S = lc.tokens.length, W = 960, H = 46;
    const sec = el('section', { id: 'long-view' }, el('h2', {}, 'Long context'));
    const r = lc.retrieval;
    sec.append(el('p', { id: 'lc-query', class: 'io' }, el('b', {}, 'query'),
      `${show(lc.tokens[lc.shown])} at position ${lc.shown.toLocaleString('en')}, attending over ${S.toLocaleString('en')} keys`));
    sec.append(el('p', { id: 'lc-retrieval', class: 'note' }, r
      ? `Retrieval (induction) head: ${r.label} head ${r.head} — prefix-matching score ${r.score.toFixed(3)} (mean weight on keys that follow an earlier copy of the query's token).`
      : 'No retrieval head: no head puts half its weight on keys that follow an earlier copy of the query token.'));
    const range = el('span', { id: 'lc-range' }), btn = (id, text) => el('button', { id, type: 'button' }, text);
    const zin = btn('lc-in', '+'), zout = btn('lc-out', '−'), all = btn('lc-all', 'all'), top = btn('lc-top', 'zoom to the answer');
    sec.append(el('div', { class: 'controls' }, zin, zout, all, top, range,
      el('span', { class: 'note' }, 'Wheel: zoom · drag: pan · bar height = √(weight ÷ the strip\'s largest weight), each pixel the largest weight of its keys; the top keys labelled, most weight first')));
    let lo = 0, hi = S;
    const strips = lc.rows.map(row => {
      const retrieval = r && row.label === r.label && row.head === r.head;
      const c = el('canvas', { width: W, height: H, class: 'lc-strip', 'data-label': row.label, 'data-head': row.head, 'data-top': row.top[0][0] });
      const keys = el('div', { class: 'lc-keys' });
      const box = el('div', { class: 'lc-row' + (retrieval ? ' retrieval' : '') },
        el('div', { class: 'lc-name' }, `${row.label} head ${row.head}`, retrieval ? el('b', {}, ' retrieval head') : '',
          el('span', { class: 'note' }, ` · largest weight ${row.top[0][1].toPrecision(3)}`)), c, keys);
      sec.append(box);
      return { row, c, keys };
    });
    function draw() {
      lo = Math.max(0, Math.floor(lo)); hi = Math.min(S, Math.ceil(hi));
      if (hi - lo < 8) { const m = (lo + hi) / 2; lo = Math.max(0, Math.floor(m - 4)); hi = Math.min(S, lo + 8); }
      range.textContent = `keys ${lo.toLocaleString('en')} – ${(hi - 1).toLocaleString('en')} of ${S.toLocaleString('en')}`;
      range.dataset.lo = lo; range.dataset.hi = hi;
      const x = j => (j - lo) / (hi - lo) * W;
      for (const { row, c, keys } of strips) {
        const g = c.getContext('2d');
        g.clearRect(0, 0, W, H); g.fillStyle = '#f6f6f6'; g.fillRect(0, 0, W, H);
        const px = new Float32Array(W);
        for (let j = lo; j < hi; j++) { const p = Math.min(W - 1, Math.floor(x(j))); if (row.weights[j] > px[p]) px[p] = row.weights[j]; }
        const cell = Math.max(1, W / (hi - lo)), max = row.top[0][1] || 1;
        for (let p = 0; p < W; p++) if (px[p] > 0) {
          const v = Math.sqrt(Math.min(1, px[p] / max)); g.fillStyle = viridis(0.25 + 0.75 * v); g.fillRect(p, H - v * H, Math.min(Math.max(2, cell), W - p), v * H);
        }
        if (lc.shown >= lo && lc.shown < hi) { g.fillStyle = '#d62728'; g.fillRect(x(lc.shown), 0, 2, H); }   // the query itself
        keys.replaceChildren(...labels(row.top.filter(([k]) => k >= lo && k < hi), x));
      }
    }
    // The top keys' labels, most weight first, each on the first of three lines where it overlaps no label already
    // placed (kept inside the strip); a label that fits on none is left out.
    function labels(top, x) {
      const lines = [[], [], []], out = [];
      top.forEach(([k, w], n) => {
        const text = `${show(lc.tokens[k])}@${k} ${w < 0.01 ? w.toExponential(1) : w.toFixed(2)}`, width = text.length * 6.7 + 6;
        const left = Math.min(Math.max(0, x(k + 0.5) - width / 2), W - width);
        const line = lines.findIndex(l => l.every(([a, b]) => left + width <= a || left >= b));
        if (line < 0) return;
        lines[line].push([left, left + width]);
        out.push(el('span', { class: 'lc-key' + (n === 0 ? ' first' : ''), 'data-key': k, style: `left:${left.toFixed(1)}px;top:${line * 14}px` }, text));
      });
      return out;
    }
    const zoom = (f, at) => { const m = at ?? (lo + hi) / 2; const w = Math.max(8, (hi - lo) * f); lo = Math.max(0, m - (m - lo) * w / (hi - lo)); hi = Math.min(S, lo + w); draw(); };
    zin.onclick = () => zoom(0.5); zout.onclick = () => zoom(2); all.onclick = () => { lo = 0; hi = S; draw(); };
    top.onclick = () => {
      const row = (r && lc.rows.find(x => x.label === r.label && x.head === r.head)) || lc.rows[0], k = row.top[0][0];
      lo = k - 32; hi = k + 32; if (lo < 0) { hi -= lo; lo = 0; } draw();
    };
    for (const { c } of strips) {
      c.addEventListener('wheel', e => { e.preventDefault(); zoom(e.deltaY < 0 ? 0.8 : 1.25, lo + e.offsetX / W * (hi - lo)); }, { passive: false });
      let from = null;
      c.addEventListener('mousedown', e => { from = e.offsetX; });
      window.addEventListener('mouseup', () => { from = null; });
      c.addEventListener('mousemove', e => {
        if (from === null) return;
        const d = (from - e.offsetX) / W * (hi - lo), w = hi - lo; from = e.offsetX;
        lo = Math.min(Math.max(0, lo + d), S - w); hi = lo + w; draw();
      });
    }
    draw();
    return sec;
  }

  Attend.render = function (root, data) {
    const state = { view: 0, head: 0 };
    root.replaceChildren();
    root.append(el('section', { id: 'io', class: 'io' },
      el('div', {}, el('b', {}, 'model'), data.model), el('div', {}, el('b', {}, 'input'), el('span', { id: 'io-input' }, data.input)),
      el('div', {}, el('b', {}, 'output'), el('span', { id: 'io-output' }, data.output))));
    if (data.images)                                         // attend serve, image/audio models: the overlay PNGs
      root.append(el('section', { id: 'images', class: 'maps' }, ...data.images.map(im =>
        el('figure', { class: 'overlay' }, el('img', { src: 'data:image/png;base64,' + im.png, alt: im.name }), el('figcaption', {}, im.name)))));
    if (data.words) root.append(el('section', { id: 'words' }, el('h2', {}, 'Word timings'), el('p', { class: 'note' }, data.word_note),
      el('table', {}, el('tr', {}, el('th', {}, 'word'), el('th', {}, 'start (s)'), el('th', {}, 'end (s)')),
        ...data.words.map(w => el('tr', {}, el('td', {}, w.word), el('td', {}, w.start.toFixed(2)), el('td', {}, w.end.toFixed(2)))))));
    if (data.long) { root.append(longView(data)); window.attendData = data; document.body.dataset.state = 'ready'; return; }
    if (!data.views.length) { root.append(el('p', { class: 'note' }, 'Nothing was captured.')); return; }
    const hv = headView(data, state);
    root.append(hv.sec, modelView(data, state), stacksView(data),
      el('section', { id: 'summary' }, el('h2', {}, 'Summary'), entropyTable(data), el('p'), el('div', { id: 'summary-top' })));
    hv.draw();
    window.attendData = data;
    document.body.dataset.state = 'ready';
  };

  Attend.live = function (form, input, error, root, file) {
    async function post(payload) {
      error.textContent = '';
      document.body.dataset.state = 'busy';
      try {
        const r = await fetch('api/explain', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(payload) });
        const body = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
        if (!r.ok) { error.textContent = body.error || `HTTP ${r.status}`; document.body.dataset.state = 'error'; return; }
        Attend.render(root, body);
      } catch (e) {
        error.textContent = `request failed: ${e.message}`;
        document.body.dataset.state = 'error';
      }
    }
    const ask = () => post({ input: input.value });
    // image/audio models: the chosen file travels as base64 in the JSON ({"file", "name"}); the server checks its size and kind
    if (file) file.addEventListener('change', () => {
      const f = file.files[0];
      if (!f) return;
      const max = +file.dataset.max;
      if (f.size > max) { error.textContent = `${f.name} is ${f.size} bytes; the server takes files of at most ${max}`; document.body.dataset.state = 'error'; return; }
      const reader = new FileReader();
      reader.onload = () => post({ file: String(reader.result).replace(/^data:[^,]*,/, ''), name: f.name });
      reader.onerror = () => { error.textContent = `could not read ${f.name}`; document.body.dataset.state = 'error'; };
      reader.readAsDataURL(f);
    });
    form.addEventListener('submit', e => { e.preventDefault(); if (input) ask(); });
    if (input) ask(); else document.body.dataset.state = 'ready';
  };
})();
