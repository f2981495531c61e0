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
