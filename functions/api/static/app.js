// Progressive enhancement only: every page works without it. Asks before an action and
// disables the button once a form is sent, so a double click submits once (the form's
// idempotency key makes a second submit harmless anyway).
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
    return;
  }
  for (const button of form.querySelectorAll("button[type=submit]")) {
    button.disabled = true;
  }
});
