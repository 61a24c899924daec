/* Event history: filters, a page at a time, CSV export, and a chart of events per
   hour or day by type (SVG drawn here, no library). */
"use strict";
(() => {
  const {t, el, api, query, time} = SW;
  const form = document.getElementById("filters");
  const siteSelect = document.getElementById("f-site");
  const body = document.querySelector("#events tbody");
  const more = document.getElementById("more");
  const MAX_CSV_PAGES = 20;
  let cursor = null;

  function iso(input) {
    return input.value ? new Date(input.value).toISOString() : "";
  }

  function filters() {
    return {
      site: siteSelect.value,
      device: document.getElementById("f-device").value.trim(),
      type: document.getElementById("f-type").value,
      from: iso(document.getElementById("f-from")),
      to: iso(document.getElementById("f-to")),
    };
  }

  async function page(fresh) {
    const found = await api("/api/v1/events?" + query(
      {...filters(), limit: 200, cursor: fresh ? null : cursor}));
    if (fresh) body.replaceChildren();
    body.append(...found.events.map((event) => el("tr", {},
      el("td", {}, time(event.at, event.site)), el("td", {}, event.site),
      el("td", {}, event.device), el("td", {}, event.kind), el("td", {}, event.type))));
    cursor = found.next_cursor;
    more.hidden = !cursor;
    document.getElementById("events-empty").hidden = body.children.length > 0;
  }

  const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
                   "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"];
  const SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  async function chart() {
    const f = filters();
    const counts = await api("/api/v1/stats/events?" + query({
      bucket: document.getElementById("f-bucket").value, site: f.site, type: f.type,
      from: f.from, to: f.to}));
    const buckets = new Map();
    const types = new Set();
    for (const c of counts.counts) {
      types.add(c.type);
      const bucket = buckets.get(c.bucket_start) || {};
      bucket[c.type] = (bucket[c.type] || 0) + c.count;
      buckets.set(c.bucket_start, bucket);
    }
    const box = document.getElementById("chart");
    if (!buckets.size) { box.replaceChildren(el("p", {class: "empty"}, t("none_found"))); return; }
    const starts = [...buckets.keys()].sort();
    const typeList = [...types].sort();
    const totals = starts.map((start) => Object.values(buckets.get(start)).reduce((a, b) => a + b, 0));
    const top = Math.max(...totals);
    const width = 760, height = 240, left = 40, bottom = 40;
    const bar = (width - left) / starts.length;
    const figure = svg("svg", {viewBox: `0 0 ${width} ${height + 20 * Math.ceil(typeList.length / 4)}`,
                               role: "img", class: "bars"});
    figure.append(svg("title", {}, `${t("chart")}: ${totals.reduce((a, b) => a + b, 0)} ${t("events")}`));
    figure.append(svg("text", {x: 0, y: 12, class: "axis"}, String(top)));
    figure.append(svg("line", {x1: left, y1: height - bottom, x2: width, y2: height - bottom, class: "axis"}));
    starts.forEach((start, i) => {
      let y = height - bottom;
      typeList.forEach((type, k) => {
        const n = buckets.get(start)[type] || 0;
        if (!n) return;
        const h = (height - bottom - 16) * n / top;
        y -= h;
        const rect = svg("rect", {x: left + i * bar + 1, y, width: Math.max(bar - 2, 1), height: h,
                                  fill: COLOURS[k % COLOURS.length]});
        rect.append(svg("title", {}, `${new Date(start).toLocaleString(SW.lang)} ${type}: ${n}`));
        figure.append(rect);
      });
      if (starts.length <= 12 || i % Math.ceil(starts.length / 12) === 0) {
        figure.append(svg("text", {x: left + i * bar, y: height - bottom + 14, class: "axis"},
          new Date(start).toLocaleString(SW.lang, {month: "numeric", day: "numeric", hour: "numeric"})));
      }
    });
    typeList.forEach((type, k) => {
      const x = (k % 4) * 190, y = height + 20 * Math.floor(k / 4);
      figure.append(svg("rect", {x, y: y - 10, width: 10, height: 10, fill: COLOURS[k % COLOURS.length]}));
      figure.append(svg("text", {x: x + 14, y, class: "legend"}, type));
    });
    box.replaceChildren(figure);
  }

  async function exportCsv() {
    let text = "";
    let next = null;
    for (let n = 0; n < MAX_CSV_PAGES; n++) {
      const response = await api("/api/v1/events?" + query({...filters(), limit: 1000, cursor: next}),
                                 {accept: "text/csv"});
      const chunk = await response.text();
      text += n === 0 ? chunk : chunk.slice(chunk.indexOf("\n") + 1);
      next = response.headers.get("X-Next-Cursor");
      if (!next) break;
    }
    const link = el("a", {href: URL.createObjectURL(new Blob([text], {type: "text/csv"})),
                          download: "shouwang-events.csv"});
    document.body.append(link);
    link.click();
    link.remove();
  }

  function apply() {
    page(true).catch(() => {});
    chart().catch((failure) => {
      document.getElementById("chart").replaceChildren(el("p", {class: "error"}, t("error") + failure.message));
    });
  }
  form.addEventListener("submit", (event) => { event.preventDefault(); apply(); });
  more.addEventListener("click", () => page(false).catch(() => {}));
  document.getElementById("csv").addEventListener("click", () => exportCsv().catch(() => {}));
  SW.fillSites(siteSelect).then(apply);
})();
