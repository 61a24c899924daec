/* The alert queue: unresolved alerts of the caller's sites, live from the stream,
   ordered by severity then age (oldest first); critical ones flash and sound until
   acknowledged. */
"use strict";
(() => {
  const {t, el, api, query, time, severity} = SW;
  const RANK = {critical: 0, high: 1, medium: 2, low: 3, info: 4};
  const alerts = new Map();
  const incidents = new Map();
  const siteSelect = document.getElementById("f-site");
  const severitySelect = document.getElementById("f-severity");
  const body = document.querySelector("#queue tbody");

  function filters() {
    return {site: siteSelect.value, severity: severitySelect.value};
  }

  function wanted(alert) {
    const f = filters();
    if (alert.state === "resolved") return false;
    if (f.site && alert.site !== f.site) return false;
    if (f.severity && RANK[alert.severity] > RANK[f.severity]) return false;
    return true;
  }

  async function load() {
    const f = filters();
    const pages = await Promise.all(["open", "acknowledged"].map(
      (state) => api("/api/v1/alerts?" + query({...f, state, limit: 1000}))));
    alerts.clear();
    for (const page of pages) for (const alert of page.alerts) alerts.set(alert.alert_id, alert);
    render();
  }

  async function incident(id) {
    if (!incidents.has(id)) {
      incidents.set(id, api("/console/api/incidents/" + id).catch(() => null));
    }
    return incidents.get(id);
  }

  function row(alert) {
    const title = el("td", {},
      el("a", {href: "/alerts/" + alert.alert_id}, alert.title || alert.rule),
      alert.silence_id || alert.inhibited_by ? el("span", {class: "badge"}, t("muted")) : null);
    if (alert.incident_id) {
      const note = el("div", {class: "incident"}, t("incident"));
      title.append(note);
      incident(alert.incident_id).then((found) => {
        if (found) {
          note.textContent = `${t("incident")}: ` +
            t("incident_of", {count: found.count, sites: found.sites.join(", ")});
        }
      });
    }
    const actions = el("td", {class: "actions"});
    if (Actions.canAct()) {
      if (alert.state === "open") {
        actions.append(el("button", {type: "button", class: "ack",
          onclick: () => Actions.ask("ack", alert, update)}, t("ack")));
      }
      actions.append(el("button", {type: "button", class: "resolve",
        onclick: () => Actions.ask("resolve", alert, update)}, t("resolve")));
    }
    const critical = alert.severity === "critical" && alert.state === "open";
    return el("tr", {"data-alert": alert.alert_id, "data-state": alert.state,
                     class: critical ? "flash" : null},
      el("td", {}, severity(alert.severity)),
      title,
      el("td", {}, el("a", {href: "/devices?site=" + encodeURIComponent(alert.site)}, alert.site)),
      el("td", {}, alert.device || "—"),
      el("td", {class: "num"}, alert.count),
      el("td", {}, time(alert.created_at, alert.site)),
      el("td", {class: "state"}, t("st_" + alert.state)),
      actions);
  }

  function render() {
    const sorted = [...alerts.values()].filter(wanted).sort((a, b) =>
      (RANK[a.severity] - RANK[b.severity]) || a.created_at.localeCompare(b.created_at));
    body.replaceChildren(...sorted.map(row));
    document.getElementById("queue-count").textContent = sorted.length;
    document.getElementById("queue-empty").hidden = sorted.length > 0;
    alarm(sorted.some((a) => a.severity === "critical" && a.state === "open"));
  }

  function update(alert) {
    if (wanted(alert)) alerts.set(alert.alert_id, alert);
    else alerts.delete(alert.alert_id);
    render();
  }

  async function onTransition(transition) {
    try {
      update(await api("/api/v1/alerts/" + transition.alert_id));
    } catch (_) { /* gone or out of scope: nothing to show */ }
  }

  /* The alarm sound: a two-tone beep every 2 s while a critical alert is open. */
  let audio = null;
  let beeping = null;
  function beep() {
    if (!audio || audio.state !== "running") return;
    for (const [offset, pitch] of [[0, 880], [0.25, 660]]) {
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.frequency.value = pitch;
      gain.gain.value = 0.2;
      tone.connect(gain).connect(audio.destination);
      tone.start(audio.currentTime + offset);
      tone.stop(audio.currentTime + offset + 0.2);
    }
  }
  function alarm(on) {
    document.body.classList.toggle("alarming", on);
    if (on && !beeping) { beep(); beeping = setInterval(beep, 2000); }
    if (!on && beeping) { clearInterval(beeping); beeping = null; }
  }
  const soundButton = document.getElementById("sound");
  function startAudio() {
    try {
      audio = audio || new AudioContext();
      audio.resume().then(() => {
        soundButton.textContent = t("sound_enabled");
        soundButton.setAttribute("aria-pressed", "true");
      });
    } catch (_) { /* no audio in this browser */ }
  }
  soundButton.addEventListener("click", startAudio);
  document.addEventListener("keydown", startAudio, {once: true});

  siteSelect.addEventListener("change", load);
  severitySelect.addEventListener("change", load);
  SW.fillSites(siteSelect).then(load);
  SW.stream(onTransition, () => load().catch(() => {}));
  setInterval(() => load().catch(() => {}), 30000);
})();
