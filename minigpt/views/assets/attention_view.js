// The linked attention view, part 2 of 2: the view's state and the linking (attention_view_draw.js draws).
// ui/attention_view.py joins the two files into the component's one module.

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
    // Beside its text on a wide screen; above it when values are printed or the screen is narrow (a laptop's
    // half screen, a phone): the cells keep a readable size either way.
    const W = root.clientWidth || 1200, stacked = this.values || W < 1100;
    const main = el("div", "main" + (stacked ? " wide" : ""));
    const fig = el("div", "fig");
    const h = this.headIndex(stage);
    const head = stage.perHead ? (d.allHeads ? this.head : d.head) : null;
    let title = stage.figTitle;
    if (stage.perHead) title = title.replace(new RegExp(`${ui.head_word} \\d+`), `${ui.head_word} ${head}`);
    fig.appendChild(el("div", "ftitle", title));
    const avail = Math.max(240, stacked ? Math.min(1100, W - 260) : Math.min(680, W - 640));
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
