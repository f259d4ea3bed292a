// docs/CRYPTO.md's test vectors, run by the web vault's own modules in the
// browser (as served by vaultd): format 1, the vault key, format 2, the
// manifest.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage, assertClean } from './lib.mjs';

const browser = await launch();
after(() => browser.close());

test('the browser reproduces every test vector of CRYPTO.md', async () => {
  const { page, problems } = await openPage(browser);
  const got = await page.evaluate(async () => {
    const c = await import('./crypto.js');
    const en = await import('./entry.js');
    const seq = (a, n) => Uint8Array.from({ length: n }, (_, i) => a + i);
    const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    const vaultKey = seq(0x40, 32);
    const keys = { vaultKey, siteKey: c.siteKeyFromVaultKey(vaultKey) };
    const kek = c.kekFromExportKey(seq(0, 64));
    const out = {
      kek: hex(kek),
      vaultKey: c.wrapVaultKey(kek, vaultKey, seq(0x60, 24)),
      unwrapped: hex(c.unwrapVaultKey(kek, c.wrapVaultKey(kek, vaultKey))),
      siteKey: hex(keys.siteKey),
      site1: c.b64url(c.siteHash(keys.siteKey, '  Mail.Example.ORG ', true)),
    };
    // Format 1: the CLI's blobs open to the vector's plaintexts.
    const v1 = en.readEntry(keys, {
      site: out.site1,
      username: 'AYCBgoOEhYaHiImKi4yNjo-QkZKTlJWWl3mBBZC0V3tOCOGdcOpBpi3PSqHV9vkKUtv3OMueglugJ3-bA08ayC4uLi0nuOGnmj293UlryplWV-Si8UMX',
      password: 'AaChoqOkpaanqKmqq6ytrq-wsbKztLW2twOvf4wYkOVuB34ltGJG2DVLxqGRbndk',
      version: 1, updated_at: '2026-01-01T00:00:00Z',
    });
    out.v1 = [v1.format, v1.name, v1.username, v1.password, v1.type, v1.created];
    const n = c.utf8('{"site":"mail.example.org","username":"alice"}');
    const aad1 = c.concat(c.utf8('vault field v1'), Uint8Array.of(0), c.siteHash(keys.siteKey, 'mail.example.org', true), Uint8Array.of(0), c.utf8('username'));
    out.v1seal = c.seal(vaultKey, n, aad1, 1, seq(0x80, 24));
    // Format 2.
    const name = '  Cafe\u0301.Example ';
    out.hash2 = hex(c.siteHash(keys.siteKey, name));
    out.site2v1 = c.b64url(c.siteHash(keys.siteKey, name, true));
    const doc = '{"v":2,"type":"login","name":"Cafe\u0301.Example","username":"alice","urls":["https://café.example/login"],"notes":"recovery: 1234","totp":"JBSWY3DPEHPK3PXP","fields":[{"name":"PIN","value":"0000","hidden":true}],"folder":"Work","favourite":true,"created":"2026-01-01T00:00:00Z","updated":"2026-01-02T00:00:00Z","history":[{"password":"old-pw","replaced_at":"2026-01-02T00:00:00Z"}],"trashed_at":null}';
    out.docBytes = c.utf8(doc).length;
    const entry = { ...JSON.parse(doc), name, password: 'hunter2', extra: {}, extraSecret: {} };
    const wire = en.writeEntry(keys, entry, { username: seq(0xc0, 24), password: seq(0xe0, 24) });
    out.v2 = wire;
    const back = en.readEntry(keys, { ...wire, version: 1, updated_at: '2026-01-02T00:00:00Z' });
    out.docAgain = en.docJson(back) === doc;
    out.back = [back.format, back.password, back.name];
    // Unknown members survive a rewrite, after the known ones.
    const withExtra = en.readEntry(keys, { ...en.writeEntry(keys, { ...back, extra: { later: [1] }, extraSecret: { pin: 'x' } }), version: 1 });
    // Read for the list: the password stays sealed until asked for.
    const listed = en.readEntry(keys, { ...wire, version: 1 }, { secret: false });
    out.lazy = [listed.password === undefined, en.openSecret(keys, listed).password];
    const badSecret = en.readEntry(keys, { ...wire, password: en.writeEntry(keys, { ...back, name: 'other' }).password, version: 1 }, { secret: false });
    try { en.openSecret(keys, badSecret); out.badSecret = 'opened'; } catch { out.badSecret = 'refused'; }
    out.extra = [JSON.stringify(withExtra.extra), JSON.stringify(withExtra.extraSecret)];
    // A blob moved to the other field, or to another entry, does not open.
    const swapped = { ...wire, username: wire.password, password: wire.username, version: 1 };
    try { en.readEntry(keys, swapped); out.swap = 'opened'; } catch { out.swap = 'refused'; }
    const mixed = { ...wire, password: 'AaChoqOkpaanqKmqq6ytrq-wsbKztLW2twOvf4wYkOVuB34ltGJG2DVLxqGRbndk', version: 1 };
    try { en.readEntry(keys, mixed); out.mixed = 'opened'; } catch { out.mixed = 'refused'; }
    return out;
  });
  assert.equal(got.kek, '0b09c2a0a219535e7cfffb031a17925d6e82d9d80c598cdeb2faf06414b86c11');
  assert.equal(got.vaultKey, 'AWBhYmNkZWZnaGlqa2xtbm9wcXJzdHV2d-f9eC0Ht4c6aOvI-pQz3UIzm7_cu49PkIBzPrOdl3HirmPVpdTFpkpnAyJfZfaYqA');
  assert.equal(got.unwrapped, '404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f');
  assert.equal(got.siteKey, '2cdd4f91d6cfc3004dc3d2c016f6bad095ec393ba64e9d54fdc0484b30885bcd');
  assert.equal(got.site1, 'Sd_LkJwJpJEDc10W33O482d-fFBVSMpTdBWuLRoGSBo');
  assert.deepEqual(got.v1, [1, 'mail.example.org', 'alice', 'hunter2', 'login', '2026-01-01T00:00:00Z']);
  assert.equal(got.v1seal, 'AYCBgoOEhYaHiImKi4yNjo-QkZKTlJWWl3mBBZC0V3tOCOGdcOpBpi3PSqHV9vkKUtv3OMueglugJ3-bA08ayC4uLi0nuOGnmj293UlryplWV-Si8UMX');
  assert.equal(got.hash2, '85412b6ac7dac364201444da3d5b4d0522998bf972563f46e1bfe634d560d595');
  assert.equal(got.site2v1, '_FmMlm7xmmCLYMj_3sZ65CPzZaIQyqVN-R-9YeJCo0E');
  assert.equal(got.docBytes, 398);
  assert.equal(got.v2.site, 'hUErasfaw2QgFETaPVtNBSKZi_lyVj9G4b_mNNVg1ZU');
  assert.equal(got.v2.username, 'AsDBwsPExcbHyMnKy8zNzs_Q0dLT1NXW1yFzpMjIxPOnJvNXF7wSOwGW5QxOKfQsOb760WxqyknMoIx3Mb_lJAUjhzMvYf8uPe7xl_C1VoaUwFUOUlKpmtj-QIHSfdF1QSK6kpJVvBnPYIEOlMNLGMxqodboc3rRuAmEDRBLj718enolcISzbYwQqwl4X-CdT-ZMdPfj00HdtjWqZfxbC6aPcB7Xtsg3wiSWo-54Vc5-uFMQJT9Ecljkwj8MAc4NUzM1P3bHZzjT7GKbeGMwQHwpWpSYpwzZTq8ziZlC7uQt_kbx2dXkpcQH6BsodSPGW7eAMxDxtWJGnlTpLlhMdwqRyIOlafQpph74ge0YtN_77QMN3jYSGkjxWVjSrzYpNFOwvo0lQVPJEjK6pvUH-kJJ1GWkiT4_w8sTGV6Gwp81IvjIiwv3aN7wDFYiAPcV3tayL-rtgRZzb3kY6qcGlelpgliA8xtmm9fwbs-fCq0btXPjhxe066OnutJm3QAtifUTSigyVw2o1HfezBtspM93_TqHwwHXWBM_8eae61CKCnWZSBvqOduwtVobq5qTiydM3ZplkA');
  assert.equal(got.v2.password, 'AuDh4uPk5ebn6Onq6-zt7u_w8fLz9PX29_eOJUbe6fZbo9Kww6BICvGD1zq2tacEzOjwHpg3drFUGBceDE1Y');
  assert.equal(got.docAgain, true);
  assert.deepEqual(got.back, [2, 'hunter2', 'Cafe\u0301.Example']);
  assert.deepEqual(got.extra, ['{"later":[1]}', '{"pin":"x"}']);
  assert.equal(got.swap, 'refused');
  assert.deepEqual(got.lazy, [true, 'hunter2']);
  assert.equal(got.badSecret, 'refused');
  assert.equal(got.mixed, 'refused');
  assertClean(problems);
});

test('the browser reproduces the manifest vectors of CRYPTO.md, and its check catches each change', async () => {
  const { page, problems } = await openPage(browser);
  const got = await page.evaluate(async () => {
    const m = await import('./manifest.js');
    const seq = (a, n) => Uint8Array.from({ length: n }, (_, i) => a + i);
    const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    const key = m.manifestKey(seq(0x40, 32));
    const three = [
      { site: '\u00e9', version: 9, username: '', password: 'p\u0000q' },
      { site: 'Sd_LkJwJpJEDc10W33O482d-fFBVSMpTdBWuLRoGSBo', version: 2,
        username: 'AYCBgoOEhYaHiImKi4yNjo-QkZKTlJWWl3mBBZC0V3tOCOGdcOpBpi3PSqHV9vkKUtv3OMueglugJ3-bA08ayC4uLi0nuOGnmj293UlryplWV-Si8UMX',
        password: 'AaChoqOkpaanqKmqq6ytrq-wsbKztLW2twOvf4wYkOVuB34ltGJG2DVLxqGRbndk' },
      { site: 'b', version: 1, username: null, password: 'x' },
    ];
    const sealed = m.seal(key, m.manifestOf(7, three), seq(0xc0, 24));
    const opened = m.open(key, sealed);
    const kind = (seqNow, entries, blob, seen) => {
      const v = m.check(key, seqNow, entries, blob, seen);
      return v.ok ? 'ok' : v.kind;
    };
    const older = m.seal(key, m.manifestOf(6, three));
    return {
      key: hex(key),
      empty: hex(m.digest([])),
      digest: hex(m.digest(three)),
      reordered: hex(m.digest([three[2], three[0], three[1]])),
      sealed,
      opened: [opened.seq, opened.count, hex(opened.digest)],
      verdicts: [
        kind(7, three, sealed, 0),
        kind(7, three, sealed, 7),
        kind(0, [], null, 0),
        kind(7, three, null, 0),
        kind(7, three, sealed.slice(0, -2) + 'AA', 0),
        kind(7, three, m.seal(seq(0, 32), m.manifestOf(7, three)), 0),
        kind(7, three.slice(1), sealed, 0),
        kind(7, [...three, { site: 'c', version: 1, username: null, password: 'y' }], sealed, 0),
        kind(7, [{ ...three[0], version: 8 }, three[1], three[2]], sealed, 0),
        kind(7, [{ ...three[0], password: 'p' }, three[1], three[2]], sealed, 0),
        kind(7, [{ ...three[2], username: '' }, three[0], three[1]], sealed, 0),
        kind(6, three, sealed, 0),
        kind(7, three, sealed, 8),
        kind(7, three, older, 7),
        kind(8, three, sealed, 0),
      ],
    };
  });
  assert.equal(got.key, '0645080ce07bf8e91472b082167ed643024f9c30a18aeedb39ea2fa4fe9ebc9c');
  assert.equal(got.empty, '4bbfd17449d661bf94d8f571f58fe14e1c0741d8448528e55f6e6d211738bd62');
  assert.equal(got.digest, 'a10c1ed71afb450a29a6d1dd53969fd12d808042165df25f77f25cdec832d7f8');
  assert.equal(got.reordered, got.digest);
  assert.equal(got.sealed, 'AcDBwsPExcbHyMnKy8zNzs_Q0dLT1NXW10F-O4X1vSvnHwJ5EbC5OuoDWS07Q0praeTd-RlTN14GYGGo3XEGykbPgY2b8CDDkbmgTEeewhlkv3rCHLKnSWQ');
  assert.deepEqual(got.opened, [7, 3, got.digest]);
  assert.deepEqual(got.verdicts, [
    'ok', 'ok', 'ok', 'manifest_missing', 'manifest_unreadable', 'manifest_unreadable',
    'entry_missing', 'entry_added', 'entry_changed', 'entry_changed', 'entry_changed',
    'vault_older', 'vault_older', 'vault_older', 'seq_ahead',
  ]);
  assertClean(problems);
});

test('RFC 6238 TOTP vectors (SHA-1, SHA-256, SHA-512)', async () => {
  const { page, problems } = await openPage(browser);
  const codes = await page.evaluate(async () => {
    const { totpCode } = await import('./totp.js');
    const h = await import('./vendor/noble-hashes.js');
    const e = new TextEncoder();
    const keys = [[h.sha1, '12345678901234567890'], [h.sha256, '12345678901234567890123456789012'],
      [h.sha512, '1234567890123456789012345678901234567890123456789012345678901234']];
    return [59, 1111111109, 20000000000].map((t) => keys.map(([hash, k]) =>
      totpCode({ key: e.encode(k), hash, digits: 8, period: 30 }, t * 1000).code));
  });
  assert.deepEqual(codes, [
    ['94287082', '46119246', '90693936'],
    ['07081804', '68084774', '25091201'],
    ['65353130', '77737706', '47863826'],
  ]);
  assertClean(problems);
});
