// Says each change of a run's status, and each goal met, once, in the lab's status line for
// screen readers. The runs re-render several times a second, so they are not a live region.
(() => {
  "use strict";

  const say = document.getElementById("lab-announce");
  const runs = document.getElementById("runs");
  const goals = document.getElementById("lab-goals");
  if (!say || !runs) return;
  const text = (node) => (node ? node.textContent.replace(/\s+/g, " ").trim() : "");

  // Each run by its heading's id: its heading ("Run 3f2a… Done") and its status.
  const runsNow = () => new Map(
    Array.from(runs.querySelectorAll("article.run[aria-labelledby]"), (run) => {
      const headingId = run.getAttribute("aria-labelledby");
      const heading = text(document.getElementById(headingId));
      return [headingId, { heading, status: text(run.querySelector(".status")) }];
    }),
  );
  // By an attribute, not the class "is-done": htmx swaps a goal in with the class it had until the
  // swap settles, after this page has read it.
  const goalsMetNow = () =>
    new Set(goals ? Array.from(goals.querySelectorAll("[data-goal-done]"), text) : []);
  let knownRuns = runsNow();
  let knownGoals = goalsMetNow();

  const announce = (lines) => {
    if (lines.length) say.textContent = lines.join(" ");
  };

  // A new run is not said: its start button's answer already did. A frame of the runs also
  // marks the goals its runs met (out of band, in the goals' list).
  runs.addEventListener("htmx:sseMessage", () => {
    const now = runsNow();
    const goalsNow = goalsMetNow();
    announce([
      ...Array.from(now)
        .filter(([id, run]) => knownRuns.has(id) && knownRuns.get(id).status !== run.status)
        .map(([, run]) => `${run.heading}.`),
      ...Array.from(goalsNow)
        .filter((goal) => !knownGoals.has(goal))
        .map((goal) => `Goal met: ${goal.replace(/^✓ Done: /, "")}`),
    ]);
    knownRuns = now;
    knownGoals = goalsNow;
  });
})();

// A live stream that fails says so in the status line its element names (data-lost-status), in
// its own words (data-lost-text). A stream inside another (the console's, or a tab's own feed,
// inside the lab's) stops the event there: the lab's own line keeps saying what it said.
// (In a file, not in hx-on attributes: the Content-Security-Policy allows no eval.)
(() => {
  "use strict";

  for (const stream of document.querySelectorAll("[sse-connect][data-lost-status]")) {
    const nested = stream.parentElement.closest("[sse-connect]") !== null;
    stream.addEventListener("htmx:sseError", (event) => {
      if (event.target !== stream) return;
      if (nested) event.stopPropagation();
      const status = document.getElementById(stream.dataset.lostStatus);
      if (status) status.textContent = stream.dataset.lostText;
    });
  }
})();
