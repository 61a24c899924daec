/* Acknowledge and resolve, each with a required note, through a dialog. */
"use strict";
const Actions = (() => {
  const {t, api} = SW;
  const dialog = document.getElementById("note-dialog");
  const form = document.getElementById("note-form");
  const text = document.getElementById("note-text");
  const error = document.getElementById("note-error");
  let pending = null;

  function canAct() { return SW.boot.role === "operator" || SW.boot.role === "admin"; }

  function ask(step, alert, done) {
    pending = {step, alert, done};
    document.getElementById("note-title").textContent =
      `${t(step === "ack" ? "ack" : "resolve")}: ${alert.title || alert.rule} · ${alert.site}`;
    document.getElementById("note-help").textContent =
      t(step === "ack" ? "note_ack_help" : "note_resolve_help");
    text.value = "";
    error.hidden = true;
    dialog.showModal();
    text.focus();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const note = text.value.trim();
    if (!note) {
      error.textContent = t("note_required");
      error.hidden = false;
      text.focus();
      return;
    }
    const {step, alert, done} = pending;
    try {
      const updated = await api(`/api/v1/alerts/${alert.alert_id}/${step}`,
        {method: "POST", body: {note}});
      dialog.close();
      pending = null;
      if (done) done(updated);
    } catch (failure) {
      error.textContent = t("error") + failure.message;
      error.hidden = false;
    }
  });
  document.getElementById("note-cancel").addEventListener("click", () => dialog.close());

  return {ask, canAct};
})();
