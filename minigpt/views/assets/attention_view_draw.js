// The linked attention view, part 1 of 2: colours, heatmaps, colour bars, lines (minigpt/views/linked.py builds
// its data; ui/attention_view.py mounts it, after joining this file and attention_view.js).
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

