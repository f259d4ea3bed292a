// The page's side of worker.js: one module worker, started with the page so
// that its WebAssembly is compiled before the first click, and a promise per
// call.
let worker = null;
let nextId = 1;
const pending = new Map();

function start() {
  worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  worker.onmessage = ({ data }) => {
    const call = pending.get(data.id);
    if (!call) return;
    pending.delete(data.id);
    if (data.error !== undefined) call.reject(new Error(data.error));
    else call.resolve(data.result);
  };
  worker.onerror = (e) => {
    e.preventDefault();
    for (const call of pending.values()) call.reject(new Error('the OPAQUE worker failed'));
    pending.clear();
    worker = null;
  };
}

export function warmUp() {
  if (!worker) start();
}

function call(op, args) {
  warmUp();
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.postMessage({ id, op, args });
  });
}

export const startRegistration = (password) => call('startRegistration', { password });
export const finishRegistration = (args) => call('finishRegistration', args);
export const startLogin = (password) => call('startLogin', { password });
export const finishLogin = (args) => call('finishLogin', args);
