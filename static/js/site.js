// A button that htmx disables while its request runs (hx-disabled-elt) loses the keyboard focus
// to the page itself, and a keyboard user would start again from the top. Give it back when the
// request is over, unless the answer put focus somewhere on purpose (autofocus) or removed it.
let focusedAtRequest = null;
document.addEventListener("htmx:beforeRequest", () => {
  focusedAtRequest = document.activeElement;
});
document.addEventListener("htmx:afterRequest", () => {
  const lost = document.activeElement === null || document.activeElement === document.body;
  if (lost && focusedAtRequest && focusedAtRequest.isConnected) {
    focusedAtRequest.focus();
  }
  focusedAtRequest = null;
});

// A part that polls (hx-trigger="every 5s") and says data-poll-while-idle skips each poll while
// the page is not seen or while focus is inside it: its swap would take the focus away. (Here,
// not in an hx-trigger filter: the Content-Security-Policy allows no eval, so htmx has none.)
document.addEventListener("htmx:confirm", (event) => {
  const elt = event.detail.elt;
  if (!elt.hasAttribute("data-poll-while-idle")) return;
  if (document.visibilityState !== "visible" || elt.contains(document.activeElement)) {
    event.preventDefault();
  }
});
