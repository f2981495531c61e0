// The "Offload the slow email" lab, timed where only the browser can time it: how long each
// send's click took to paint (Event Timing API), and the round trip of each ping. Progressive
// enhancement: without this file the lab works the same, without these two figures.
(() => {
  "use strict";

  // The Event Timing API reports no interaction quicker than 16 ms (its smallest threshold).
  // A send with no report this long after its click was quicker than that.
  const REPORT_GRACE_MS = 1000;
  const DELIVERY_WAIT_MS = 30000;
  const PING_LOG_SIZE = 8;
  const DURING = {
    idle: "while nothing was sending",
    sync: "while send now was waiting",
    background: "while a background send was on its way",
  };

  const sends = []; // {mode, clickAt, interactionId, runId}, in click order
  const durations = new Map(); // interactionId -> its longest event's duration
  const inFlight = { sync: 0, background: 0 }; // send requests not answered yet
  const awaitingDelivery = new Map(); // background run id -> when its request was answered
  const pingStarts = new WeakMap(); // ping form -> {at, during}
  const pings = { idle: [], sync: [], background: [] };
  let pingCount = 0;

  const sendButton = (node) => (node instanceof Element ? node.closest("[data-lab-send]") : null);

  // Click to next paint.
  document.addEventListener(
    "click",
    (event) => {
      const button = sendButton(event.target);
      if (!button) return;
      sends.push({ mode: button.dataset.labSend, clickAt: event.timeStamp, interactionId: 0, runId: "" });
      setTimeout(showInteractions, REPORT_GRACE_MS + 50);
    },
    true,
  );

  if (window.PerformanceObserver && PerformanceObserver.supportedEntryTypes?.includes("event")) {
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        if (!entry.interactionId) continue;
        const longest = Math.max(durations.get(entry.interactionId) || 0, entry.duration);
        durations.set(entry.interactionId, longest);
        const button = sendButton(entry.target);
        if (!button || sends.some((send) => send.interactionId === entry.interactionId)) continue;
        // An interaction (pointerdown ... click, or keydown ... click) starts at or before the
        // click it ends in: it belongs to the first send clicked at or after its start.
        const send = sends.find(
          (send) =>
            !send.interactionId &&
            send.mode === button.dataset.labSend &&
            send.clickAt >= entry.startTime - 1 &&
            send.clickAt - entry.startTime < REPORT_GRACE_MS,
        );
        if (send) send.interactionId = entry.interactionId;
      }
      showInteractions();
    }).observe({ type: "event", durationThreshold: 16, buffered: true });
  }

  function showInteractions() {
    const now = performance.now();
    for (const cell of document.querySelectorAll("[data-interaction-for]")) {
      const send = sends.find((send) => send.runId === cell.dataset.interactionFor);
      if (!send) continue; // a run from before this page was opened
      const duration = durations.get(send.interactionId);
      if (duration !== undefined) {
        cell.textContent = `${Math.round(duration)} ms`;
      } else if (now - send.clickAt > REPORT_GRACE_MS) {
        cell.textContent = "under 16 ms (too quick for the browser to report)";
      } else {
        cell.textContent = "measuring…";
      }
    }
  }

  // Pings, and what was going on while each one was on its way.
  const results = document.querySelector("[data-ping-results]");
  if (results) results.hidden = false;

  function during() {
    if (inFlight.sync > 0) return "sync";
    if (inFlight.background > 0 || awaitingDelivery.size > 0) return "background";
    return "idle";
  }

  function median(values) {
    const sorted = [...values].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  }

  function showPing(ping, roundTrip, serverMs) {
    pingCount += 1;
    pings[ping.during].push(roundTrip);
    for (const [key, values] of Object.entries(pings)) {
      const cells = results.querySelectorAll(`[data-ping-during="${key}"] td`);
      cells[0].textContent = values.length;
      cells[1].textContent = values.length ? `${Math.round(median(values))} ms` : "–";
      cells[2].textContent = values.length ? `${Math.round(Math.max(...values))} ms` : "–";
    }
    const log = results.querySelector("[data-ping-log]");
    const item = document.createElement("li");
    const server = serverMs ? ` (${serverMs} ms of it on the server)` : "";
    const stillWaiting =
      ping.during === "sync" && inFlight.sync > 0
        ? "; send now was still waiting when the pong came back"
        : "";
    item.textContent = `Ping ${pingCount}: ${Math.round(roundTrip)} ms${server}, ${DURING[ping.during]}${stillWaiting}`;
    log.prepend(item);
    while (log.children.length > PING_LOG_SIZE) log.lastElementChild.remove();
  }

  document.addEventListener("htmx:beforeRequest", (event) => {
    const elt = event.detail.elt;
    const mode = elt.dataset?.labSend;
    if (mode) {
      inFlight[mode] += 1;
    } else if (elt.matches?.("[data-ping]")) {
      pingStarts.set(elt, { at: performance.now(), during: during() });
    }
  });

  document.addEventListener("htmx:afterRequest", (event) => {
    const { elt, xhr } = event.detail;
    const mode = elt.dataset?.labSend;
    if (mode) {
      inFlight[mode] = Math.max(0, inFlight[mode] - 1);
      const runId = /data-run-id="(\w+)"/.exec(xhr?.responseText || "")?.[1] || "";
      const send = sends.find((send) => send.mode === mode && !send.runId);
      if (send) send.runId = runId || "-";
      if (runId && mode === "background" && event.detail.successful) {
        awaitingDelivery.set(runId, performance.now());
      }
      showInteractions();
    } else if (elt.matches?.("[data-ping]") && pingStarts.has(elt) && results) {
      const ping = pingStarts.get(elt);
      pingStarts.delete(elt);
      const serverMs = /dur=([\d.]+)/.exec(xhr?.getResponseHeader("Server-Timing") || "")?.[1];
      showPing(ping, performance.now() - ping.at, serverMs);
    }
  });

  // Each event re-renders the cards of the runs it changed: fill in the figures again, and see
  // which emails arrived.
  document.addEventListener("htmx:sseMessage", () => {
    const now = performance.now();
    for (const [runId, since] of awaitingDelivery) {
      const status = document.querySelector(`[data-run-row="${CSS.escape(runId)}"]`)?.dataset
        .status;
      if (status === "delivered" || status === "failed" || now - since > DELIVERY_WAIT_MS) {
        awaitingDelivery.delete(runId);
      }
    }
    showInteractions();
  });
})();
