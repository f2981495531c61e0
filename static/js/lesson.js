// Adds a "Copy" button to every code block of a lesson. Without JavaScript the code is still
// there to select by hand.
document.querySelectorAll(".lesson-body pre").forEach((pre) => {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "copy-button";
  button.textContent = "Copy";
  button.setAttribute("aria-label", "Copy this code");
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(pre.innerText);
      button.textContent = "Copied";
    } catch {
      button.textContent = "Select and copy";
    }
    setTimeout(() => { button.textContent = "Copy"; }, 2000);
  });
  pre.parentElement.classList.add("has-copy");
  pre.before(button);
});
