// Waits for the login to be decided in the app (server-sent events), then continues.
// Without JavaScript the page refreshes itself and offers a link instead.
(function () {
  var box = document.querySelector('[data-login-events]');
  if (!box || !('EventSource' in window)) return;
  var events = new EventSource(box.getAttribute('data-login-events'));
  events.addEventListener('decided', function () {
    events.close();
    window.location.assign(box.getAttribute('data-finish'));
  });
})();
