/* Devices of one site or all: kind, online, last seen, state; filters for offline,
   stale (silent for N minutes) and never reported. */
"use strict";
(() => {
  const {t, el, api, query, time} = SW;
  const form = document.getElementById("filters");
  const siteSelect = document.getElementById("f-site");
  const body = document.querySelector("#devices tbody");
  const more = document.getElementById("more");
  let cursor = null;

  function stateText(state) {
    if (!state) return "";
    return Object.entries(state).map(([name, value]) => `${name}: ${value}`).join(", ");
  }

  function row(device) {
    const online = device.online === null ? t("never") : t(device.online ? "online" : "offline");
    return el("tr", {"data-device": device.device},
      el("td", {}, device.site), el("td", {}, device.device), el("td", {}, device.label || ""),
      el("td", {}, device.kind),
      el("td", {class: device.online === false ? "bad" : null}, online),
      el("td", {}, device.last_seen ? time(device.last_seen, device.site) : t("never")),
      el("td", {}, stateText(device.last_state)));
  }

  async function page(fresh) {
    const site = siteSelect.value;
    const stale = Number(document.getElementById("f-stale").value);
    const never = document.getElementById("f-never").checked;
    const params = {
      state: document.getElementById("f-state").value, limit: 200,
      stale_since: never ? new Date().toISOString()
        : stale > 0 ? new Date(Date.now() - stale * 60000).toISOString() : "",
      cursor: fresh ? null : cursor,
    };
    const path = site ? `/api/v1/sites/${encodeURIComponent(site)}/devices` : "/api/v1/devices";
    const found = await api(path + "?" + query(params));
    let devices = found.devices;
    if (never) devices = devices.filter((device) => device.last_seen === null);
    if (fresh) body.replaceChildren();
    body.append(...devices.map(row));
    cursor = found.next_cursor;
    more.hidden = !cursor;
    document.getElementById("devices-empty").hidden = body.children.length > 0;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const url = new URL(location.href);
    url.searchParams.set("site", siteSelect.value);
    history.replaceState(null, "", url);
    page(true).catch(() => {});
  });
  more.addEventListener("click", () => page(false).catch(() => {}));
  SW.fillSites(siteSelect).then(() => page(true)).catch(() => {});
})();
