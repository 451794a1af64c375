// worker-rpc.js — the request loop every DenseLab worker shares. Messages in:
// { id, cmd, ...args }; out: { id, ok: true, result } | { id, ok: false, error }.
// Requests are handled strictly one at a time, in arrival order; commands other than
// the `setup` ones fail with `notReady` until isReady() holds. transfer(result) lists
// the buffers to move instead of copy. The page's side is web/worker-client.js.
export function serve(handlers, { setup, isReady, notReady, transfer = () => [] }) {
  let queue = Promise.resolve();
  self.onmessage = (event) => {
    const msg = event.data || {};
    queue = queue.then(async () => {
      try {
        const fn = handlers[msg.cmd];
        if (!fn) throw new Error(`unknown command ${msg.cmd}`);
        if (!setup.includes(msg.cmd) && !isReady()) throw new Error(notReady);
        const result = await fn(msg);
        self.postMessage({ id: msg.id, ok: true, result }, transfer(result));
      } catch (e) {
        self.postMessage({ id: msg.id, ok: false, error: e?.message || String(e) });
      }
    });
  };
}
