// The ping lab's own event stream, raw: each server-sent event as this page receives it, and
// each reconnect, read from the events of htmx's SSE extension (htmx:sseOpen, htmx:sseMessage,
// htmx:sseError). Progressive enhancement: without this file the lab works the same, unwatched.
(() => {
  "use strict";

  const LINES_SHOWN = 20;
  const panel = document.querySelector("[data-raw-stream]");
  const lab = document.querySelector(".lab[sse-connect]");
  if (!panel || !lab) return;
  const list = panel.querySelector("[data-raw-events]");
  const encoder = new TextEncoder();
  let source = null; // the EventSource the lab reads
  let lastId = ""; // its last event id: what it sends as Last-Event-ID when it reconnects itself
  panel.hidden = false;

  function show(item) {
    list.prepend(item);
    while (list.children.length > LINES_SHOWN) list.lastElementChild.remove();
  }

  function connection(text) {
    const item = document.createElement("li");
    item.className = "raw-connection";
    item.textContent = text;
    show(item);
  }

  lab.addEventListener("htmx:sseOpen", (event) => {
    const opened = event.detail.source;
    if (source === null) {
      connection("Stream opened (a new EventSource, so no Last-Event-ID).");
    } else if (opened !== source) {
      connection("Reconnected by htmx with a new EventSource: it sent no Last-Event-ID.");
    } else if (lastId) {
      connection(`Reconnected by the browser, which sent Last-Event-ID: ${lastId}.`);
    } else {
      connection("Reconnected by the browser, with no Last-Event-ID: no frame had an id yet.");
    }
    if (opened !== source) lastId = "";
    source = opened;
  });

  lab.addEventListener("htmx:sseError", (event) => {
    connection(
      event.detail.source.readyState === EventSource.CLOSED
        ? "Stream failed: htmx will open a new EventSource."
        : "Stream ended: the browser reconnects by itself after the retry interval.",
    );
  });

  lab.addEventListener("htmx:sseMessage", (event) => {
    const frame = event.detail; // the EventSource's own MessageEvent
    lastId = frame.lastEventId;
    const item = document.createElement("li");
    const id = document.createElement("code");
    id.textContent = frame.lastEventId || "(no id)";
    item.append(id, ` ${frame.type}, ${encoder.encode(frame.data).length} bytes`);
    show(item);
  });
})();
