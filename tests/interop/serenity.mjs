#!/usr/bin/env node
// Drives a running vaultd over HTTP with an independent OPAQUE client,
// @serenity-kit/opaque, exactly as API.md describes the wire contract.
//
//   node serenity.mjs                      full check (prints ok/not ok lines, "N passed, M failed")
//   node serenity.mjs register USERNAME    password from VAULT_PASSWORD, optional vault_key from VAULT_KEY_BLOB
//   node serenity.mjs login USERNAME       prints {"token", "vault_key", "export_key"} as JSON
//   node serenity.mjs create-server-setup  prints a fresh OPAQUE_SERVER_SETUP
//
// Server: VAULTD_URL (default http://127.0.0.1:8080).
import { randomBytes } from "node:crypto";
import opaque from "@serenity-kit/opaque";

const BASE = (process.env.VAULTD_URL || "http://127.0.0.1:8080").replace(/\/+$/, "");
const B64URL = /^[A-Za-z0-9_-]+$/; // base64url without padding
const b64len = (s) => Buffer.from(s, "base64url").length;
const why = (e) => e.message + (e.cause ? ` (${e.cause.code ?? e.cause.message})` : "");

async function post(path, body, token) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(BASE + path, {
    method: "POST",
    headers,
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(15000),
  });
  const text = await res.text();
  let json = null;
  if ((res.headers.get("content-type") || "").toLowerCase().startsWith("application/json")) {
    try { json = JSON.parse(text); } catch { /* stays null */ }
  }
  return { status: res.status, json, summary: `HTTP ${res.status} ${text.slice(0, 200)}` };
}

async function register(username, password, vaultKey) {
  const start = opaque.client.startRegistration({ password });
  const r1 = await post("/register", { username, registration_request: start.registrationRequest });
  if (r1.status !== 200 || !B64URL.test(r1.json?.registration_response)) return { r1 };
  const fin = opaque.client.finishRegistration({
    password,
    clientRegistrationState: start.clientRegistrationState,
    registrationResponse: r1.json.registration_response,
  });
  const body = {
    username,
    registration_id: r1.json.registration_id,
    registration_record: fin.registrationRecord,
  };
  if (vaultKey != null) body.vault_key = vaultKey;
  return { r1, r2: await post("/register/finish", body), exportKey: fin.exportKey };
}

// fin is undefined when the client rejects the server's answer (wrong password, unknown user).
async function login(username, password) {
  const start = opaque.client.startLogin({ password });
  const r1 = await post("/login", { username, credential_request: start.startLoginRequest });
  if (r1.status !== 200 || !B64URL.test(r1.json?.credential_response)) return { r1 };
  const fin = opaque.client.finishLogin({
    password,
    clientLoginState: start.clientLoginState,
    loginResponse: r1.json.credential_response,
  });
  if (!fin) return { r1, fin };
  const r2 = await post("/login/finish", { login_id: r1.json.login_id, credential_finalization: fin.finishLoginRequest });
  return { r1, fin, r2 };
}

async function selfTest() {
  let passed = 0, failed = 0;
  // fn returns true on success, or a string saying what went wrong.
  const step = async (name, fn) => {
    let r;
    try { r = await fn(); } catch (e) { r = `threw ${why(e)}`; }
    console.log(r === true ? `ok - ${name}` : `not ok - ${name}: ${r}`);
    r === true ? passed++ : failed++;
  };
  const username = `interop-${randomBytes(6).toString("hex")}`;
  const password = "correct horse battery staple \u00fc";
  const vaultKey = randomBytes(72).toString("base64url");
  const entry = { site: `site-${randomBytes(4).toString("hex")}`, username: "al\u00efce \u{1f511}", password: "p\u00e4ss\u0000w\u00f6rd \u{1f512}" };
  let reg, ok, token, knownLen;

  await step(`register ${username}`, async () => {
    reg = await register(username, password, vaultKey);
    if (reg.r1.status !== 200) return `/register: ${reg.r1.summary}`;
    if (reg.r2.status !== 201 || reg.r2.json?.username !== username) return `/register/finish: ${reg.r2.summary}`;
    return true;
  });
  await step("login: /login, client finishLogin, /login/finish", async () => {
    ok = await login(username, password);
    if (ok.r1.status !== 200 || !B64URL.test(ok.r1.json?.login_id ?? "")) return `/login: ${ok.r1.summary}`;
    if (!ok.fin) return `client rejected the credential_response (${ok.r1.summary.slice(0, 120)})`;
    if (ok.r2.status !== 200) return `/login/finish: ${ok.r2.summary}`;
    token = ok.r2.json?.token;
    knownLen = b64len(ok.r1.json.credential_response);
    return true;
  });
  await step("login answer: Bearer token, expires_in 3600, vault_key echoed", () => {
    const j = ok?.r2?.json ?? {};
    if (typeof j.token !== "string" || j.token_type !== "Bearer") return JSON.stringify(j).slice(0, 200);
    if (j.expires_in !== 3600) return `expires_in ${j.expires_in}`;
    return j.vault_key === vaultKey || `vault_key ${JSON.stringify(j.vault_key)}`;
  });
  await step("export key at login equals export key at registration", () =>
    (ok?.fin && ok.fin.exportKey === reg?.exportKey) || "differs");
  await step("replayed /login/finish is 401", async () => {
    const r = await post("/login/finish", { login_id: ok.r1.json.login_id, credential_finalization: ok.fin.finishLoginRequest });
    return r.status === 401 || r.summary;
  });
  await step("/add -> 201 {site, version: 1}", async () => {
    const r = await post("/add", entry, token);
    return (r.status === 201 && r.json?.site === entry.site && r.json?.version === 1) || r.summary;
  });
  await step("/get {site} -> the entry unchanged", async () => {
    const r = await post("/get", { site: entry.site }, token);
    const e = r.json?.entry;
    if (r.status !== 200 || !e) return r.summary;
    const same = e.site === entry.site && e.username === entry.username && e.password === entry.password;
    return (same && e.version === 1 && !Number.isNaN(Date.parse(e.updated_at))) || r.summary;
  });
  await step("/get {} -> list containing the entry", async () => {
    const r = await post("/get", {}, token);
    const found = r.json?.entries?.filter((e) => e.site === entry.site) ?? [];
    return (r.status === 200 && found.length === 1 && found[0].password === entry.password) || r.summary;
  });
  await step("/logout -> 200", async () => {
    const r = await post("/logout", {}, token);
    return r.status === 200 || r.summary;
  });
  await step("/get with the logged-out token -> 401", async () => {
    const r = await post("/get", {}, token);
    return (r.status === 401 && r.json?.error === "unauthorized") || r.summary;
  });
  await step("wrong password: client finishLogin gives nothing, garbage finalization -> 401", async () => {
    const bad = await login(username, "wrong password");
    if (bad.r1.status !== 200) return `/login: ${bad.r1.summary}`;
    if (bad.fin) return "client accepted a wrong password";
    const r = await post("/login/finish", {
      login_id: bad.r1.json.login_id,
      credential_finalization: randomBytes(64).toString("base64url"),
    });
    return (r.status === 401 && r.json?.error === "unauthorized") || r.summary;
  });
  await step("unknown username: /login 200 with a same-length credential_response", async () => {
    const u = await login(`interop-nobody-${randomBytes(6).toString("hex")}`, password);
    if (u.r1.status !== 200 || !B64URL.test(u.r1.json?.login_id ?? "")) return `/login: ${u.r1.summary}`;
    const len = b64len(u.r1.json.credential_response);
    if (len !== knownLen) return `${len} bytes, known user got ${knownLen}`;
    return !u.fin || "client accepted a fake credential_response";
  });

  console.log(`${passed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

async function main(argv) {
  await opaque.ready;
  const [mode, name] = argv;
  if (mode === "create-server-setup") {
    console.log(opaque.server.createSetup());
    return 0;
  }
  if (mode === "register" || mode === "login") {
    const password = process.env.VAULT_PASSWORD;
    if (!name || !password) throw new Error(`usage: VAULT_PASSWORD=... node serenity.mjs ${mode} USERNAME`);
    if (mode === "register") {
      const { r1, r2 } = await register(name, password, process.env.VAULT_KEY_BLOB);
      const r = r2 ?? r1;
      console.log(r === r2 && r2.status === 201 ? `ok - register ${name}` : `not ok - register ${name}: ${r.summary}`);
      return r === r2 && r2.status === 201 ? 0 : 1;
    }
    const { r1, fin, r2 } = await login(name, password);
    if (!fin || r2?.status !== 200) {
      console.error(`login ${name} failed: ${r2 ? r2.summary : r1.status === 200 ? "client rejected the server's answer" : r1.summary}`);
      return 1;
    }
    console.log(JSON.stringify({ token: r2.json.token, vault_key: r2.json.vault_key, export_key: fin.exportKey }));
    return 0;
  }
  if (mode !== undefined) throw new Error("usage: node serenity.mjs [register USERNAME | login USERNAME | create-server-setup]");
  return selfTest();
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => { console.error(why(e)); process.exit(1); },
);
