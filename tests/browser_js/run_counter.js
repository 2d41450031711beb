// An init script (run before the page's own): counts finished script runs (full or fragment) in
// window.__symbreakRuns and remembers when the page last changed in window.__symbreakChanged. A click has been
// handled when a new run finished and the app has been idle for a while (a callback that calls st.rerun starts
// a second run right after the first).
//
// Runs are counted from the server's messages: every run ends with a ForwardMsg holding script_finished (field
// 6, a varint) next to its metadata. Its status is 0 (finished), 1 (compile error) or 3 (fragment run
// finished); 2 means "stopped early for a rerun" (another run follows). The scan reads the message's top-level
// protobuf fields only. (The page's script state attribute misses a fast run: React can apply "running" and
// "not running" in one render, so the attribute never changes; opening a page whose data is cached did that.)
// Every finished run and any change of the script state attribute mark the page as changed.
if (window.__symbreakRuns === undefined) {
  window.__symbreakRuns = 0;
  window.__symbreakChanged = performance.now();
  const finishedStatus = (data) => {
    if (!(data instanceof ArrayBuffer)) return null;
    const bytes = new Uint8Array(data);
    let i = 0;
    const varint = () => {
      let value = 0, shift = 0, byte;
      do { byte = bytes[i++]; value += (byte & 0x7f) * 2 ** shift; shift += 7; } while (byte & 0x80 && i < bytes.length);
      return value;
    };
    while (i < bytes.length) {
      const tag = varint(), field = Math.floor(tag / 8), wire = tag % 8;
      if (wire === 0) { const value = varint(); if (field === 6) return value; }
      else if (wire === 2) { const length = varint(); i += length; }
      else if (wire === 1) i += 8;
      else if (wire === 5) i += 4;
      else return null;
    }
    return null;
  };
  const Socket = window.WebSocket;
  window.WebSocket = function (...args) {
    const socket = new Socket(...args);
    socket.addEventListener('message', (event) => {
      const status = finishedStatus(event.data);
      if (status !== null && status !== 2) {
        window.__symbreakRuns += 1;
        window.__symbreakChanged = performance.now();
      }
    });
    return socket;
  };
  window.WebSocket.prototype = Socket.prototype;
  Object.setPrototypeOf(window.WebSocket, Socket);  // the constructor's constants (WebSocket.OPEN, ...) still hold
  new MutationObserver(() => { window.__symbreakChanged = performance.now(); })
    .observe(document, {subtree: true, attributes: true, attributeFilter: ['data-test-script-state']});
}
