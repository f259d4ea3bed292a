// The OPAQUE client (@serenity-kit/opaque, its WebAssembly inlined) in a
// module worker: Argon2id takes a second or more, and the page must stay
// responsive meanwhile. Stateless: every call gets what it needs and
// answers with plain strings; nothing is kept here between calls.
import * as opaque from './vendor/opaque.js';

const ops = {
  // keyStretching and identifiers are left out on purpose: serenity's
  // defaults are exactly CRYPTO.md's (Argon2id m=65536 t=3 p=4, no ids).
  startRegistration: ({ password }) => opaque.client.startRegistration({ password }),
  finishRegistration: (args) => opaque.client.finishRegistration(args),
  startLogin: ({ password }) => opaque.client.startLogin({ password }),
  // undefined when the password is wrong, the user unknown or the server's
  // setup changed: all three look the same (CRYPTO.md).
  finishLogin: (args) => opaque.client.finishLogin(args) ?? null,
};

self.onmessage = async ({ data: { id, op, args } }) => {
  try {
    await opaque.ready;
    self.postMessage({ id, result: ops[op](args) });
  } catch (e) {
    self.postMessage({ id, error: String(e?.message ?? e) });
  }
};

// Compile the WebAssembly at once, while the user is still typing.
opaque.ready.then(() => self.postMessage({ ready: true }));
