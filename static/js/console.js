// The Redis console: command history on the up and down arrows, as in redis-cli, and the newest
// line kept in view. Progressive enhancement: without this file (or without JavaScript) the form
// still posts each line and the reply still shows.
(() => {
  "use strict";

  const form = document.getElementById("console-form");
  const transcript = document.getElementById("console-transcript");
  if (!form || !transcript) return;
  const input = form.querySelector("input[name=line]");

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

  // The page's subscription appends each message it receives to the transcript: keep it in
  // view. (The transcript is a log: a screen reader reads the message itself.)
  transcript.addEventListener("htmx:sseMessage", (event) => {
    if (event.detail.type !== "message") return;
    transcript.scrollTop = transcript.scrollHeight;
  });
})();
