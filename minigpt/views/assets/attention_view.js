// The linked attention view (minigpt/views/linked.py builds its data; ui/attention_view.py mounts it).
// One block of one batch row: the stages as tabs, all heads, and the lines view. Hovering or clicking a
// token highlights its row, its column and its lines everywhere here, in the browser, without the server.
// Every string from Python is written with textContent, never parsed as HTML: typed text stays text.

const DIVERGING = [[5, 48, 97], [33, 102, 172], [67, 147, 195], [146, 197, 222], [209, 229, 240], [247, 247, 247],
  [253, 219, 199], [244, 165, 130], [214, 96, 77], [178, 24, 43], [103, 0, 31]];      // plotly RdBu_r
const VIRIDIS = [[68, 1, 84], [72, 40, 120], [62, 73, 137], [49, 104, 142], [38, 130, 142], [31, 158, 137],
  [53, 183, 121], [110, 206, 88], [181, 222, 43], [253, 231, 37]];                    // plotly Viridis
const MASKED = [140, 140, 140];        // −∞ / masked: its own grey (minigpt/views/style.py MASKED_GREY)
const VISIBLE = [161, 217, 155];       // a key the query may see (style.MASK_VISIBLE)

function ramp(stops, x) {
  if (!(x >= 0)) x = 0;
  if (x > 1) x = 1;
  const p = x * (stops.length - 1), i = Math.min(stops.length - 2, Math.floor(p)), f = p - i;
  const a = stops[i], b = stops[i + 1];
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

function colourOf(stage, v, rowMax) {
  if (stage.kind === "boolean") return v ? MASKED : VISIBLE;
  if (!Number.isFinite(v)) return MASKED;
  if (stage.kind === "probability") return ramp(VIRIDIS, rowMax ? v / rowMax : v);
  return ramp(DIVERGING, (v - stage.lo) / (stage.hi - stage.lo));
}

function rgb(c) { return `rgb(${c[0] | 0},${c[1] | 0},${c[2] | 0})`; }
function dark(c) { return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2] < 140; }

function decode(b64) {
  const bin = atob(b64), bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Float32Array(bytes.buffer);
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function short(v, kind) {      // what fits in a cell: ".12", "−1.3", "12"
  if (kind === "boolean") return v ? "T" : "F";
  if (!Number.isFinite(v)) return v < 0 ? "−∞" : "∞";
  if (v === 0) return "0";
  if (kind === "probability" && v === 1) return "1";
  const a = Math.abs(v), s = v < 0 ? "−" : "";
  if (a < 0.995) return s + a.toFixed(2).replace(/^0/, "");
  if (a < 9.95) return s + a.toFixed(1);
  return s + Math.round(a);
}

function exact(v, kind) {
  if (kind === "boolean") return v ? "True (masked)" : "False";
  if (!Number.isFinite(v)) return v < 0 ? "−∞" : String(v);
  return v.toPrecision(6);
}

// One heatmap: row labels, a canvas of cells, an overlay canvas for the highlight, key labels, a colour bar
// exactly as tall as the cells. Returns {highlight(q, k)} for the linked focus.
function heatmap(view, box, stage, head, opt) {
  const R = stage.rows, C = stage.cols, vals = stage._v, off = head * R * C;
  const cw = opt.cw, ch = opt.ch, W = C * cw, H = R * ch;
  const labels = view.data.labels;
  const wrap = el("div", "hm" + (opt.small ? " small" : ""));
  const ylab = el("div", "ylab");
  if (opt.rowLabels !== false) {
    const every = Math.max(1, Math.ceil(11 / ch));
    for (let r = 0; r < R; r++) {
      const d = el("div", "yl", r % every === 0 ? labels[r] : "");
      d.style.height = ch + "px"; d.style.lineHeight = ch + "px";
      d.style.fontSize = Math.max(8, Math.min(13, ch - 2)) + "px";
      d.dataset.q = r;
      ylab.appendChild(d);
    }
  }
  const plot = el("div", "plot");
  plot.style.width = W + "px"; plot.style.height = H + "px";
  const dpr = window.devicePixelRatio || 1;
  const cv = el("canvas"), ov = el("canvas", "ov");
  for (const c of [cv, ov]) { c.width = Math.ceil(W * dpr); c.height = Math.ceil(H * dpr); c.style.width = W + "px"; c.style.height = H + "px"; }
  const g = cv.getContext("2d");
  g.scale(dpr, dpr);
  const perRow = opt.perRow && stage.kind === "probability";
  const fs = Math.min(12, ch * 0.42, cw / 2.6);
  const printValues = opt.values && fs >= 7;
  g.font = `${fs}px sans-serif`; g.textAlign = "center"; g.textBaseline = "middle";
  for (let r = 0; r < R; r++) {
    let rowMax = 0;
    if (perRow) for (let c = 0; c < C; c++) { const v = vals[off + r * C + c]; if (v > rowMax) rowMax = v; }
    for (let c = 0; c < C; c++) {
      const v = vals[off + r * C + c], col = colourOf(stage, v, perRow ? (rowMax || 1) : 0);
      g.fillStyle = rgb(col);
      g.fillRect(c * cw, r * ch, cw + 0.5, ch + 0.5);
      if (printValues) {
        g.fillStyle = dark(col) ? "#fff" : "#111";
        g.fillText(short(v, stage.kind), c * cw + cw / 2, r * ch + ch / 2 + 0.5);
      }
    }
  }
  plot.appendChild(cv); plot.appendChild(ov);
  const top = el("div", "hmrow");
  top.appendChild(ylab); top.appendChild(plot);
  if (opt.colourBar !== false) top.appendChild(colourBar(view, stage, H, perRow));
  wrap.appendChild(top);
  if (opt.colLabels !== false) {
    const xl = el("div", "xlab");
    xl.style.width = W + "px";
    xl.style.marginLeft = (opt.rowLabels === false ? 0 : null);
    const every = Math.max(1, Math.ceil(12 / cw));
    for (let c = 0; c < C; c++) {
      const text = c % every ? "" : (stage.square ? (cw >= 14 ? labels[c] : String(c)) : String(c));
      const d = el("div", "xl", text);
      d.style.width = cw + "px";
      d.style.fontSize = Math.max(8, Math.min(13, cw - 2)) + "px";
      d.dataset.k = c;
      xl.appendChild(d);
    }
    wrap.appendChild(xl);
    const axis = el("div", "axis", stage.xTitle);
    wrap.appendChild(axis);
  }
  box.appendChild(wrap);
  if (opt.rowLabels !== false) requestAnimationFrame(() => { wrap.querySelector(".xlab").style.marginLeft = ylab.offsetWidth + "px"; wrap.querySelector(".axis").style.marginLeft = ylab.offsetWidth + "px"; });

  const cell = (ev) => {
    const rect = plot.getBoundingClientRect();
    const c = Math.floor((ev.clientX - rect.left) / cw), r = Math.floor((ev.clientY - rect.top) / ch);
    return (r >= 0 && r < R && c >= 0 && c < C) ? [r, c] : null;
  };
  plot.addEventListener("mousemove", (ev) => {
    const rc = cell(ev);
    if (!rc) return;
    const [r, c] = rc, v = vals[off + r * C + c];
    view.hover(ev, r, stage.square ? c : null);
    const headText = stage.perHead ? ` · ${view.data.ui.head_word} ${opt.headIndex}` : "";
    view.tip(ev, `${stage.title}${headText}\n${stage.yTitle} ${labels[r]} · ${stage.xTitle} ${stage.square ? labels[c] : c}\n= ${exact(v, stage.kind)}`);
  });
  plot.addEventListener("mouseleave", () => { view.unhover(); view.tip(null); });
  plot.addEventListener("click", (ev) => { const rc = cell(ev); if (rc) view.pin(rc[0], stage.square ? rc[1] : null); });
  ylab.addEventListener("mouseover", (ev) => { const q = ev.target.dataset.q; if (q !== undefined) view.hover(ev, +q, stage.square ? +q : null); });
  ylab.addEventListener("mouseleave", () => view.unhover());
  ylab.addEventListener("click", (ev) => { const q = ev.target.dataset.q; if (q !== undefined) view.pin(+q, stage.square ? +q : null); });

  const o = ov.getContext("2d");
  o.scale(dpr, dpr);
  return {
    highlight(q, k) {
      o.clearRect(0, 0, W, H);
      for (const d of ylab.children) d.classList.toggle("on", +d.dataset.q === q);
      if (q === null && k === null) return;
      o.fillStyle = "rgba(255,255,255,0.55)";     // fade what is not the focus, outline what is
      if (q !== null) { o.fillRect(0, 0, W, q * ch); o.fillRect(0, (q + 1) * ch, W, H - (q + 1) * ch); }
      o.lineWidth = 2; o.strokeStyle = "#ff7f0e";
      if (q !== null) o.strokeRect(1, q * ch + 1, W - 2, ch - 2);
      if (k !== null && stage.square) { o.setLineDash([4, 3]); o.strokeRect(k * cw + 1, 1, cw - 2, H - 2); o.setLineDash([]); }
    },
  };
}

function colourBar(view, stage, H, perRow) {
  const ui = view.data.ui, bar = el("div", "cbar");
  bar.style.height = H + "px";
  if (stage.kind === "boolean") {
    const a = el("div", "legend");
    const m = el("span", "sw"); m.style.background = rgb(MASKED);
    const v = el("span", "sw"); v.style.background = rgb(VISIBLE);
    a.appendChild(m); a.appendChild(el("span", "", ui.hidden_cell)); a.appendChild(el("br"));
    a.appendChild(v); a.appendChild(el("span", "", ui.visible_cell));
    bar.appendChild(a);
    return bar;
  }
  const cv = el("canvas"), h = Math.max(20, H);
  cv.width = 14; cv.height = h; cv.style.height = h + "px";
  const g = cv.getContext("2d");
  for (let y = 0; y < h; y++) {
    const x = 1 - y / (h - 1);
    const c = stage.kind === "probability" ? ramp(VIRIDIS, x) : ramp(DIVERGING, x);
    g.fillStyle = rgb(c); g.fillRect(0, y, 14, 1);
  }
  const ticks = el("div", "ticks");
  const hiText = perRow ? ui.row_max : stage.hi.toPrecision(3);
  const loText = perRow ? "0" : (stage.kind === "probability" ? "0" : stage.lo.toPrecision(3));
  ticks.appendChild(el("span", "t-hi", hiText));
  if (stage.kind !== "probability") ticks.appendChild(el("span", "t-mid", "0"));
  ticks.appendChild(el("span", "t-lo", loText));
  bar.appendChild(cv); bar.appendChild(ticks);
  if (stage.key === "attn.masked") {
    const a = el("div", "legend below"), m = el("span", "sw");
    m.style.background = rgb(MASKED);
    a.appendChild(m); a.appendChild(el("span", "", ui.masked_cell));
    bar.appendChild(a);
  }
  return bar;
}

function lines(view, box, weights, head) {
  const T = weights.rows, w = weights._v, off = head * T * T, labels = view.data.labels, ui = view.data.ui;
  const rowH = Math.max(12, Math.min(26, Math.floor(560 / T))), H = T * rowH + 30, W = 420;
  const NS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("width", W); svg.setAttribute("height", H); svg.setAttribute("class", "lines");
  const xq = 150, xk = W - 150, y = (i) => 24 + i * rowH + rowH / 2;
  const head2 = (x, text, anchor) => { const s = document.createElementNS(NS, "text"); s.setAttribute("x", x); s.setAttribute("y", 12); s.setAttribute("text-anchor", anchor); s.setAttribute("class", "side"); s.textContent = text; svg.appendChild(s); };
  head2(xq - 8, ui.query, "end"); head2(xk + 8, ui.key, "start");
  const segs = [];
  for (let q = 0; q < T; q++) for (let k = 0; k < T; k++) {
    const v = w[off + q * T + k];
    if (!(v >= 0.01)) continue;
    const l = document.createElementNS(NS, "line");
    l.setAttribute("x1", xq); l.setAttribute("y1", y(q)); l.setAttribute("x2", xk); l.setAttribute("y2", y(k));
    l.setAttribute("stroke-opacity", Math.min(1, v).toFixed(3)); l.setAttribute("class", "ln");
    l.dataset.q = q; l.dataset.k = k;
    const title = document.createElementNS(NS, "title"); title.textContent = `${labels[q]} → ${labels[k]}: ${v.toFixed(4)}`;
    l.appendChild(title);
    svg.appendChild(l); segs.push(l);
  }
  const fs = Math.max(9, Math.min(14, rowH - 3));
  const side = (x, anchor, attr) => {
    const out = [];
    for (let i = 0; i < T; i++) {
      const s = document.createElementNS(NS, "text");
      s.setAttribute("x", x); s.setAttribute("y", y(i) + fs / 3); s.setAttribute("text-anchor", anchor);
      s.setAttribute("font-size", fs); s.setAttribute("class", "tok-l"); s.dataset[attr] = i;
      s.textContent = labels[i];
      svg.appendChild(s); out.push(s);
    }
    return out;
  };
  const qs = side(xq - 8, "end", "q"), ks = side(xk + 8, "start", "k");
  svg.addEventListener("mouseover", (ev) => {
    const d = ev.target.dataset || {};
    if (d.q !== undefined && d.k === undefined) view.hover(ev, +d.q, null);
    else if (d.k !== undefined && d.q === undefined) view.hover(ev, null, +d.k);
  });
  svg.addEventListener("mouseleave", () => view.unhover());
  svg.addEventListener("click", (ev) => { const d = ev.target.dataset || {}; if (d.q !== undefined && d.k === undefined) view.pin(+d.q, null); });
  box.appendChild(svg);
  return {
    highlight(q, k) {
      for (const l of segs) {
        const on = (q === null || +l.dataset.q === q) && (k === null || +l.dataset.k === k);
        l.classList.toggle("dim", (q !== null || k !== null) && !on);
        l.classList.toggle("on", (q !== null || k !== null) && on);
      }
      qs.forEach((s, i) => s.classList.toggle("on", i === q));
      ks.forEach((s, i) => s.classList.toggle("on", i === k));
    },
  };
}

class View {
  constructor(root, setStateValue) {
    this.root = root; this.setStateValue = setStateValue;
    this.tab = "attn.weights"; this.grid = "attn.weights"; this.values = false; this.perRow = false;
    this.focus = { q: null, k: null }; this.pinned = null; this.parts = []; this.head = 0; this.stamp = null;
  }

  update(data) {
    this.data = data;
    for (const s of data.stages) s._v = decode(s.values);
    this.byKey = Object.fromEntries(data.stages.map((s) => [s.key, s]));
    if (this.stamp === null || !data.allHeads || this.serverHead !== data.head) this.head = data.head;
    this.serverHead = data.head;
    if (this.pinned && (this.pinned.q >= data.T || (this.pinned.k ?? 0) >= data.T)) this.pinned = null;
    this.stamp = data.stamp;
    this.render();
  }

  headIndex(stage) { return stage.perHead && stage.heads > 1 ? this.head : 0; }

  render() {
    const d = this.data, ui = d.ui, root = this.root;
    root.textContent = "";
    this.parts = [];
    // the strip of stages (tabs), grouped as the notebook goes; options beside it
    const bar = el("div", "bar");
    const tabs = el("div", "tabs");
    tabs.setAttribute("role", "tablist");
    let group = null;
    for (const s of d.stages) {
      if (s.group !== group) { group = s.group; tabs.appendChild(el("span", "group", ui[group])); }
      const b = el("button", "tab" + (s.key === this.tab ? " sel" : ""), s.title);
      b.setAttribute("role", "tab"); b.dataset.stage = s.key;
      b.addEventListener("click", () => { this.tab = s.key; this.render(); });
      tabs.appendChild(b);
    }
    bar.appendChild(tabs);
    const opts = el("div", "opts");
    opts.appendChild(this.checkbox("opt-values", ui.show_values, this.values, (v) => { this.values = v; this.render(); }));
    const stage = this.byKey[this.tab];
    if (stage.kind === "probability" || this.grid === "attn.weights")
      opts.appendChild(this.checkbox("opt-row", ui.per_row, this.perRow, (v) => { this.perRow = v; this.render(); }));
    bar.appendChild(opts);
    root.appendChild(bar);
    // the tokens: hover one, everything below follows
    const toks = el("div", "toks");
    d.labels.forEach((label, i) => {
      const c = el("span", "tok", label);
      c.dataset.q = i;
      toks.appendChild(c);
    });
    toks.addEventListener("mouseover", (ev) => { const q = ev.target.dataset.q; if (q !== undefined) this.hover(ev, +q, +q); });
    toks.addEventListener("mouseleave", () => this.unhover());
    toks.addEventListener("click", (ev) => { const q = ev.target.dataset.q; if (q !== undefined) this.pin(+q, +q); });
    this.chips = [...toks.children];
    root.appendChild(toks);
    root.appendChild(el("div", "hint", ui.hover_hint));

    // the chosen stage, large, with its shape, code and explanation
    const main = el("div", "main" + (this.values ? " wide" : ""));
    const fig = el("div", "fig");
    const h = this.headIndex(stage);
    const head = stage.perHead ? (d.allHeads ? this.head : d.head) : null;
    let title = stage.figTitle;
    if (stage.perHead) title = title.replace(new RegExp(`${ui.head_word} \\d+`), `${ui.head_word} ${head}`);
    fig.appendChild(el("div", "ftitle", title));
    const avail = (this.values ? Math.min(1100, root.clientWidth - 260) : Math.min(680, root.clientWidth - 640)) || 520;
    let cw = Math.floor(Math.max(3, Math.min(44, avail / stage.cols)));
    let ch = Math.floor(Math.max(5, Math.min(32, (this.values ? 30 * 32 : 520) / stage.rows)));
    if (stage.square || stage.cols <= stage.rows) cw = ch = Math.min(cw, ch);
    if (this.values && stage.rows <= d.valuesMax && stage.cols <= d.valuesMax) { cw = Math.max(cw, 26); ch = Math.max(ch, 24); }
    this.parts.push(heatmap(this, fig, stage, h, { cw, ch, values: this.values, perRow: this.perRow, headIndex: head }));
    if (this.values && (stage.rows > d.valuesMax || stage.cols > d.valuesMax))
      fig.appendChild(el("div", "note", ui.values_off.replace("{rows}", stage.rows).replace("{cols}", stage.cols).replace("{n}", d.valuesMax)));
    if (this.perRow && stage.kind === "probability") fig.appendChild(el("div", "note", ui.per_row_note));
    if (stage.kind === "probability" && !this.perRow) fig.appendChild(el("div", "note", ui.fixed_range));
    main.appendChild(fig);
    const side = el("div", "side");
    const info = el("div", "info");
    info.appendChild(el("div", "shape", `${ui.shape} ${stage.shape}`));
    info.appendChild(el("pre", "code", stage.code));
    info.appendChild(el("p", "text", stage.text));
    side.appendChild(info);
    // who looks at whom: the lines of the head shown
    const lineBox = el("div", "linesbox");
    const lineHead = d.allHeads ? this.head : d.head;
    lineBox.appendChild(el("div", "ftitle", `${ui.lines} · ${ui.block_word} ${d.block} · ${ui.head_word} ${lineHead}`));
    lineBox.appendChild(el("div", "note", ui.lines_note));
    this.parts.push(lines(this, lineBox, this.byKey["attn.weights"], this.headIndex(this.byKey["attn.weights"])));
    side.appendChild(lineBox);
    main.appendChild(side);
    root.appendChild(main);

    // all heads of the block, full width
    const gridBox = el("div", "grid");
    gridBox.appendChild(el("div", "ftitle", ui.grid_title));
    if (d.allHeads) {
      const pick = el("div", "gridpick");
      pick.appendChild(el("span", "", ui.grid_show));
      for (const key of d.gridStages) {
        const b = el("button", "tab small" + (key === this.grid ? " sel" : ""), this.byKey[key].title);
        b.dataset.grid = key;
        b.addEventListener("click", () => { this.grid = key; this.render(); });
        pick.appendChild(b);
      }
      gridBox.appendChild(pick);
      const gs = this.byKey[this.grid], H = gs.heads;
      const cols = Math.min(H, 4);
      const gw = (root.clientWidth || 1200) - 140;
      const cell = Math.floor(Math.max(4, Math.min(18, (gw / cols - 40) / gs.cols)));
      const panels = el("div", "panels");
      panels.style.gridTemplateColumns = `repeat(${cols}, auto)`;
      for (let k = 0; k < H; k++) {
        const p = el("div", "panel" + (k === this.head ? " sel" : ""));
        const t = el("button", "ptitle", `${ui.head_word} ${k}`);
        t.title = ui.head_click;
        t.dataset.head = k;
        t.addEventListener("click", () => this.chooseHead(k));
        p.appendChild(t);
        this.parts.push(heatmap(this, p, gs, k, { cw: cell, ch: cell, small: true, values: false, perRow: this.perRow,
          rowLabels: k % cols === 0, colourBar: k % cols === cols - 1 || k === H - 1, headIndex: k }));
        panels.appendChild(p);
      }
      gridBox.appendChild(panels);
    } else {
      gridBox.appendChild(el("div", "note", ui.too_big));
    }
    root.appendChild(gridBox);
    this.tipBox = el("div", "tip");
    root.appendChild(this.tipBox);
    root.dataset.stamp = d.stamp; root.dataset.tab = this.tab; root.dataset.head = this.head;
    this.apply(null);
    root.dataset.drawn = String((+root.dataset.drawn || 0) + 1);
  }

  checkbox(cls, text, value, change) {
    const l = el("label", "opt " + cls), c = el("input");
    c.type = "checkbox"; c.checked = value;
    c.addEventListener("change", () => change(c.checked));
    l.appendChild(c); l.appendChild(el("span", "", text));
    return l;
  }

  chooseHead(k) {
    if (!this.data.allHeads || k === this.head) return;
    this.head = k;
    this.render();
    this.setStateValue("head", k);   // the page's head picker and the link follow (one rerun, the view is already drawn)
  }

  hover(ev, q, k) { this.focus = { q, k }; this.apply(ev); }
  unhover() { this.focus = this.pinned || { q: null, k: null }; this.apply(null); }
  pin(q, k) {
    const same = this.pinned && this.pinned.q === q && this.pinned.k === k;
    this.pinned = same ? null : { q, k };
    this.root.dataset.pinned = this.pinned ? String(q) : "";
    this.focus = this.pinned || { q, k };
    this.apply(null);
  }

  apply(ev) {
    const { q, k } = this.focus;
    for (const p of this.parts) p.highlight(q, k);
    if (this.chips) this.chips.forEach((c, i) => c.classList.toggle("on", i === q || (q === null && i === k)));
    this.root.dataset.focus = q === null ? "" : String(q);
    if (ev && ev.timeStamp) this.root.dataset.highlightMs = (performance.now() - ev.timeStamp).toFixed(2);
  }

  tip(ev, text) {
    if (!ev) { this.tipBox.style.display = "none"; return; }
    this.tipBox.textContent = text;
    const r = this.root.getBoundingClientRect();
    this.tipBox.style.display = "block";
    this.tipBox.style.left = (ev.clientX - r.left + 14) + "px";
    this.tipBox.style.top = (ev.clientY - r.top + 14) + "px";
  }
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  const root = parentElement.querySelector(".mg-av");
  if (!root || !data) return;
  if (!root.__view) root.__view = new View(root, setStateValue);
  root.__view.setStateValue = setStateValue;
  root.__view.update(data);
}
