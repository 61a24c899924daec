/* One alert: facts, triggering events, snapshots, the device's recent events, the audit
   trail; acknowledge, resolve, and a silence made from it. */
"use strict";
(() => {
  const {t, el, api, time, severity} = SW;
  const id = SW.boot.alert_id;
  let alert = null;
  const MAX_EVENTS = 20;

  function fact(name, value) {
    return [el("dt", {}, name), el("dd", {}, value)];
  }

  function rows(tbody, items) {
    tbody.replaceChildren(...items);
  }

  async function showAlert() {
    alert = await api("/api/v1/alerts/" + id);
    document.getElementById("a-title").textContent = alert.title || alert.rule;
    document.getElementById("a-facts").replaceChildren(
      ...fact(t("severity"), severity(alert.severity)),
      ...fact(t("state"), el("span", {id: "a-state"}, t("st_" + alert.state))),
      ...fact(t("rule"), alert.rule),
      ...fact(t("site"), alert.site),
      ...fact(t("device"), alert.device || "—"),
      ...fact(t("count"), alert.count),
      ...fact(t("first_at"), time(alert.first_at, alert.site)),
      ...fact(t("last_at"), time(alert.last_at, alert.site)));
    const acting = Actions.canAct();
    document.getElementById("a-ack").hidden = !(acting && alert.state === "open");
    document.getElementById("a-resolve").hidden = !(acting && alert.state !== "resolved");
    document.getElementById("silence-form").hidden = !acting;
  }

  async function showAudit() {
    const trail = await api(`/api/v1/alerts/${id}/audit`);
    rows(document.querySelector("#a-audit tbody"), trail.entries.map((entry) =>
      el("tr", {"data-transition": entry.transition},
        el("td", {}, time(entry.at, alert.site)),
        el("td", {}, t("tr_" + entry.transition)),
        el("td", {}, severity(entry.severity)),
        el("td", {}, entry.actor),
        el("td", {class: "note"}, entry.note || ""))));
  }

  async function showEvents() {
    const found = await Promise.all(alert.event_ids.slice(-MAX_EVENTS).map(
      (eventId) => api("/api/v1/events/" + eventId).catch(() => null)));
    const events = found.filter(Boolean).sort((a, b) => b.at.localeCompare(a.at));
    rows(document.querySelector("#a-events tbody"), events.map((event) =>
      el("tr", {}, el("td", {}, time(event.at, event.site)), el("td", {}, event.device),
         el("td", {}, event.type), el("td", {}, event.kind))));
    const snapshots = document.getElementById("a-snapshots");
    const cameras = events.filter((event) => event.kind === "camera");
    if (cameras.length) {
      snapshots.replaceChildren(...cameras.map((event) => {
        const image = el("img", {src: `/api/v1/events/${event.id}/snapshot`, loading: "lazy",
          alt: `${t("snapshots")}: ${event.device} ${event.at}`});
        image.addEventListener("error", () => image.closest("figure").remove());
        return el("figure", {}, image, el("figcaption", {}, time(event.at, event.site)));
      }));
    }
  }

  async function showRecent() {
    if (!alert.device) return;
    const device = await api(`/api/v1/sites/${encodeURIComponent(alert.site)}/devices/` +
      `${encodeURIComponent(alert.device)}?recent=20`).catch(() => null);
    if (!device) return;
    rows(document.querySelector("#a-recent tbody"), device.recent_events.map((event) =>
      el("tr", {}, el("td", {}, time(event.at, event.site)), el("td", {}, event.type),
         el("td", {}, event.kind))));
  }

  async function refresh() {
    await showAlert();
    await Promise.all([showAudit(), showEvents(), showRecent()]);
  }

  function acted() {
    document.getElementById("a-status").textContent = t("ok_done");
    refresh();
  }
  document.getElementById("a-ack").addEventListener("click", () => Actions.ask("ack", alert, acted));
  document.getElementById("a-resolve").addEventListener(
    "click", () => Actions.ask("resolve", alert, acted));

  document.getElementById("silence-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const status = document.getElementById("s-status");
    const hours = Number(document.getElementById("s-hours").value);
    const reason = document.getElementById("s-reason").value.trim();
    if (!reason || !(hours >= 1 && hours <= 720)) {
      status.textContent = t("error") + t("silence_reason");
      return;
    }
    const body = {site: alert.site, rule: alert.rule, reason,
                  ends_at: new Date(Date.now() + hours * 3600 * 1000).toISOString()};
    if (document.getElementById("s-device").checked && alert.device) body.device = alert.device;
    try {
      const made = await api("/api/v1/silences", {method: "POST", body});
      status.textContent = t("silence_done", {until: new Date(made.ends_at).toLocaleString(SW.lang)});
    } catch (failure) {
      status.textContent = t("error") + failure.message;
    }
  });

  SW.stream((transition) => { if (transition.alert_id === id) refresh(); }, null);
  refresh().catch((failure) => {
    document.getElementById("a-status").textContent = t("error") + failure.message;
  });
})();
