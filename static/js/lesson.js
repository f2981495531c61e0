// Adds a "Copy" button to every code block of a lesson. Without JavaScript the code is still
// there to select by hand.
document.querySelectorAll(".lesson-body pre").forEach((pre) => {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "copy-button";
  // Its name is its text, so that "Copied" is what a screen reader hears after a click.
  const ready = () => { button.innerHTML = 'Copy<span class="visually-hidden"> this code</span>'; };
  ready();
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(pre.innerText);
      button.textContent = "Copied";
    } catch {
      button.textContent = "Select and copy";
    }
    setTimeout(ready, 2000);
  });
  pre.parentElement.classList.add("has-copy");
  pre.before(button);
});
