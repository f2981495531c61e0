// The Redis console: command history on the up and down arrows, as in redis-cli, and a short
// spoken note when a subscription receives a message. Progressive enhancement: without this
// file (or without JavaScript) the form still posts each line and the reply still shows.
(() => {
  "use strict";

  const form = document.getElementById("console-form");
  const transcript = document.getElementById("console-transcript");
  if (!form || !transcript) return;
  const input = form.querySelector("input[name=line]");
  const announce = document.getElementById("console-announce");

  // The lines already in the transcript (after a reload) start the history.
  const history = Array.from(transcript.querySelectorAll("[data-line]"), (node) => node.dataset.line);
  let position = history.length; // history.length: the line being typed, not a recalled one
  let draft = "";

  const show = (value) => {
    input.value = value;
    input.setSelectionRange(value.length, value.length);
  };

  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowUp" && position > 0) {
      if (position === history.length) draft = input.value;
      position -= 1;
      show(history[position]);
      event.preventDefault();
    } else if (event.key === "ArrowDown" && position < history.length) {
      position += 1;
      show(position === history.length ? draft : history[position]);
      event.preventDefault();
    }
  });

  form.addEventListener("submit", () => {
    const line = input.value;
    if (line.trim() && history[history.length - 1] !== line) history.push(line);
    position = history.length;
    draft = "";
  });

  form.addEventListener("htmx:afterRequest", (event) => {
    if (event.detail.elt !== form) return;
    input.value = "";
    transcript.scrollTop = transcript.scrollHeight;
    input.focus();
  });

  transcript.scrollTop = transcript.scrollHeight;

  // Messages arrive in the part the event stream re-renders: say the new ones, once each.
  const seen = new Set(Array.from(document.querySelectorAll("[data-message]"), (n) => n.dataset.message));
  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (!announce || event.target.id !== "runs") return;
    const fresh = Array.from(event.target.querySelectorAll("[data-message]")).filter(
      (node) => !seen.has(node.dataset.message),
    );
    fresh.forEach((node) => seen.add(node.dataset.message));
    if (fresh.length === 1) {
      announce.textContent = `A message on ${fresh[0].dataset.channel}.`;
    } else if (fresh.length > 1) {
      announce.textContent = `${fresh.length} messages arrived.`;
    }
  });
})();
