/* The console's shared helpers: words, the API with the session cookie and CSRF token,
   the banner (stream, hub, components), times, and the live alert stream. */
"use strict";
const SW = (() => {
  const words = JSON.parse(document.getElementById("words").textContent);
  const bootEl = document.getElementById("boot");
  const boot = bootEl ? JSON.parse(bootEl.textContent) : {};
  const csrfEl = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfEl ? csrfEl.content : "";
  const lang = document.documentElement.lang || "zh-CN";
  const SEVERITIES = ["critical", "high", "medium", "low", "info"];

  function t(key, vars) {
    let text = words[key] || key;
    for (const [name, value] of Object.entries(vars || {})) {
      text = text.replace("{" + name + "}", String(value));
    }
    return text;
  }

  /* el("td", {class: "x"}, "text", child): an element; text is never parsed as HTML. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /* The banner: one line per reason, shown while any reason holds. */
  const reasons = new Map();
  function banner(reason, message) {
    if (message) reasons.set(reason, message);
    else reasons.delete(reason);
    const box = document.getElementById("banner");
    box.replaceChildren(...[...reasons.entries()].map(
      ([name, text]) => el("p", {"data-reason": name}, text)));
    box.hidden = reasons.size === 0;
  }

  class ApiError extends Error {
    constructor(status, detail) {
      super(typeof detail === "string" ? detail : JSON.stringify(detail));
      this.status = status;
    }
  }

  async function api(path, options) {
    const {method = "GET", body, accept = "application/json"} = options || {};
    const headers = {"Accept": accept};
    if (method !== "GET") {
      headers["X-CSRF-Token"] = csrf;
      if (body !== undefined) headers["Content-Type"] = "application/json";
    }
    let response;
    try {
      response = await fetch(path, {
        method, headers, credentials: "same-origin",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      banner("hub", t("banner_hub"));
      throw error;
    }
    banner("hub", null);
    if (response.status === 401) banner("session", t("banner_session"));
    if (!response.ok) {
      let detail = response.statusText;
      try { detail = (await response.json()).detail; } catch (_) { /* not JSON */ }
      throw new ApiError(response.status, detail);
    }
    return accept === "application/json" ? response.json() : response;
  }

  function query(params) {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) {
      if (value !== "" && value !== null && value !== undefined) search.set(name, value);
    }
    return search.toString();
  }

  /* Times: the browser's zone, and the site's zone beside it. */
  const local = new Intl.DateTimeFormat(lang, {dateStyle: "short", timeStyle: "medium"});
  const zoneFormats = new Map();
  function siteZone(site) {
    return (boot.site_timezones && boot.site_timezones[site]) || boot.timezone || "UTC";
  }
  function time(iso, site) {
    if (!iso) return el("span", {class: "muted"}, "—");
    const when = new Date(iso);
    const zone = siteZone(site);
    if (!zoneFormats.has(zone)) {
      zoneFormats.set(zone, new Intl.DateTimeFormat(lang, {timeStyle: "short", timeZone: zone}));
    }
    const there = zoneFormats.get(zone).format(when);
    return el("span", {class: "time"},
      el("time", {datetime: iso, title: t("browser_time")}, local.format(when)),
      el("small", {class: "zone", title: t("site_time")}, ` (${zone} ${there})`));
  }

  function severity(name) {
    return el("span", {class: "sev sev-" + name}, t("sev_" + name));
  }

  async function fillSites(select) {
    const chosen = new URLSearchParams(location.search).get("site") || "";
    try {
      const {sites} = await api("/api/v1/sites");
      for (const site of sites) select.append(el("option", {value: site.site}, site.site));
    } catch (_) { /* the banner says why */ }
    select.value = chosen;
  }

  /* Health: the hub itself, its database, broker link and loops. */
  async function checkHealth() {
    let body;
    try {
      const response = await fetch("/health", {cache: "no-store"});
      body = await response.json();
    } catch (_) {
      banner("hub", t("banner_hub"));
      return;
    }
    banner("hub", null);
    banner("database", body.database === false ? t("banner_database") : null);
    banner("mqtt", body.mqtt_connected === false ? t("banner_mqtt") : null);
    const stalled = Object.entries(body.components || {})
      .filter(([, part]) => !part.alive)
      .map(([name, part]) => part.detail ? `${name} (${part.detail})` : name);
    banner("stalled", stalled.length ? t("banner_stalled") + stalled.join(", ") : null);
  }

  /* The live stream: onTransition(transition) for every alert transition; onOpen()
     each time it (re)connects, to read what may have been missed. */
  function stream(onTransition, onOpen) {
    let source = null;
    function connect() {
      source = new EventSource("/api/v1/alerts/stream");
      source.addEventListener("open", () => {
        document.body.dataset.stream = "open";
        banner("stream", null);
        if (onOpen) onOpen();
      });
      source.addEventListener("alert", (message) => {
        try { onTransition(JSON.parse(message.data)); } catch (error) { console.error(error); }
      });
      source.addEventListener("error", () => {
        document.body.dataset.stream = "down";
        banner("stream", t("banner_stream"));
        if (source.readyState === EventSource.CLOSED) {
          // Refused (session ended, too many streams): check, then try again.
          api("/api/v1/sites").catch(() => {});
          setTimeout(connect, 5000);
        }
      });
    }
    connect();
    window.addEventListener("beforeunload", () => source && source.close());
  }

  checkHealth();
  setInterval(checkHealth, 5000);

  return {t, el, api, query, time, severity, banner, fillSites, stream, checkHealth, boot,
          csrf, lang, SEVERITIES, ApiError};
})();
