// The console's only script (its Content-Security-Policy allows no inline script or handler,
// backoffice/http_security.py): a form with data-confirm asks before it is sent.
document.addEventListener("submit", (event) => {
  const message = event.target.dataset ? event.target.dataset.confirm : null;
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});
