// Waits for the login to be decided in the app (server-sent events), then continues.
// Without JavaScript the person follows the "I have answered in the app" link, which
// waits on the server for the answer.
(function () {
  var box = document.querySelector('[data-login-events]');
  if (!box || !('EventSource' in window)) return;
  var events = new EventSource(box.getAttribute('data-login-events'));
  // Once the person cancels or follows the link themselves, the page is leaving: the
  // "decided" event their cancel causes must not take them to another page instead.
  var leaving = false;
  function leave() {
    leaving = true;
    events.close();
  }
  document.addEventListener('submit', leave);
  window.addEventListener('pagehide', leave);
  events.addEventListener('decided', function () {
    events.close();
    if (!leaving) window.location.assign(box.getAttribute('data-finish'));
  });
})();
