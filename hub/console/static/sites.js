/* The site board: a tile per site, ok / alerting (counts by severity) / blind (since
   when) / degraded, refreshed every few seconds and on every alert transition. */
"use strict";
(() => {
  const {t, el, api, query, time} = SW;
  // A site is blind when its agent said offline, or has not sent its status (every
  // 30 s) for this long: the hub's own `site-blind` rule uses the same 90 s.
  const STATUS_GRACE_MS = 90 * 1000;
  const REFRESH_MS = 5000;
  const list = document.getElementById("tiles");

  function unresolved() {
    return Promise.all(["open", "acknowledged"].map(
      (state) => api("/api/v1/alerts?" + query({state, limit: 1000}))))
      .then((pages) => pages.flatMap((page) => page.alerts));
  }

  function tileOf(site, alerts, now) {
    const mine = alerts.filter((alert) => alert.site === site.site);
    const blindAlert = mine.find((alert) => alert.rule === "site-blind");
    const stale = site.last_status_at && now - Date.parse(site.last_status_at) > STATUS_GRACE_MS;
    let state = "ok";
    let since = null;
    if (site.state === "offline" || stale) {
      state = "blind";
      since = site.last_status_at;
    } else if (blindAlert) {
      state = "blind";
      since = blindAlert.first_at;
    } else if (site.degraded) {
      state = "degraded";
    } else if (mine.length) {
      state = "alerting";
    } else if (site.state === null) {
      state = "unknown";
    }
    const counts = {};
    for (const alert of mine) counts[alert.severity] = (counts[alert.severity] || 0) + 1;
    const badges = SW.SEVERITIES.filter((name) => counts[name]).map((name) =>
      el("span", {class: "sev sev-" + name}, `${t("sev_" + name)} ${counts[name]}`));
    const devices = site.devices;
    return el("li", {class: "tile tile-" + state, "data-site": site.site, "data-state": state},
      el("a", {href: "/devices?site=" + encodeURIComponent(site.site),
               "aria-label": `${t("open_site")} ${site.site}: ${t("tile_" + state)}`},
        el("strong", {class: "tile-name"}, site.site),
        el("span", {class: "tile-state"}, t("tile_" + state)),
        since ? el("span", {class: "tile-since"}, t("blind_since"), " ", time(since, site.site))
              : null,
        mine.length && state !== "alerting" ? el("span", {}, t("tile_alerting")) : null,
        badges.length ? el("span", {class: "tile-counts"}, ...badges) : null,
        el("span", {class: "tile-devices"},
          `${t("devices_count")} ${devices.total} · ${t("online")} ${devices.online} · ` +
          `${t("offline")} ${devices.offline}`)));
  }

  async function refresh() {
    try {
      const [{sites}, alerts] = await Promise.all([api("/api/v1/sites"), unresolved()]);
      const now = Date.now();
      list.replaceChildren(...sites.map((site) => tileOf(site, alerts, now)));
      document.getElementById("tiles-empty").hidden = sites.length > 0;
    } catch (_) { /* the banner says why */ }
  }

  let queued = null;
  function soon() {
    if (!queued) queued = setTimeout(() => { queued = null; refresh(); }, 200);
  }
  refresh();
  setInterval(refresh, REFRESH_MS);
  SW.stream(soon, soon);
})();
