import t from 'tap';
import { ConfigError } from '../../src/errors/app-error.js';
import {
  compileAuth,
  hashToken,
  sign,
  signedHeaders,
  signingKey,
  verifyBearer,
  verifySignature,
} from '../../src/http/auth.js';

const SECRET = `whsec_${Buffer.from('acme-signing-secret-0123456789').toString('base64')}`;
const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);

const auth = compileAuth({
  tenants: {
    acme: { auth: { tokens: ['dev-acme', hashToken('hashed-acme')], signingSecrets: [SECRET] } },
    globex: { auth: { tokens: ['dev-globex'], signingSecrets: [] } },
  },
  admin: { tokens: ['dev-admin'] },
});

function signed(
  body: string,
  overrides: Partial<{ tenant: string; id: string; ts: number; secret: string }> = {},
) {
  const h = signedHeaders(overrides.tenant ?? 'acme', overrides.secret ?? SECRET, body, {
    id: overrides.id ?? 'msg_1',
    timestampSeconds: overrides.ts ?? NOW / 1000,
  });
  return {
    tenant: h['parley-tenant']!,
    id: h['webhook-id']!,
    timestamp: h['webhook-timestamp']!,
    signature: h['webhook-signature']!,
    body: Buffer.from(body),
  };
}

t.test('http-auth - bearer tokens map to their tenant or to the operator, plaintext or hashed', async (t) => {
  t.same(verifyBearer(auth, 'dev-acme'), { kind: 'tenant', tenant: 'acme', via: 'token' });
  t.same(verifyBearer(auth, 'hashed-acme'), { kind: 'tenant', tenant: 'acme', via: 'token' });
  t.same(verifyBearer(auth, 'dev-globex'), { kind: 'tenant', tenant: 'globex', via: 'token' });
  t.same(verifyBearer(auth, 'dev-admin'), {
    kind: 'operator',
    operator: { name: 'admin', roles: ['viewer', 'reviewer', 'operator', 'rules-admin'] },
    via: 'token',
  });
  t.equal(verifyBearer(auth, 'dev-acm'), undefined, 'a prefix is not the token');
  t.equal(verifyBearer(auth, ''), undefined);
  t.equal(verifyBearer(auth, hashToken('hashed-acme')), undefined, 'the hash itself is not a credential');
  t.match(hashToken('x'), /^sha256:[0-9a-f]{64}$/);
});

t.test(
  'http-auth - malformed hashes, shared tokens and short secrets are config errors naming the key',
  async (t) => {
    const err = (() => {
      try {
        compileAuth({
          tenants: {
            a: { auth: { tokens: ['sha256:1234', 'same'], signingSecrets: ['whsec_c2hvcnQ='] } },
            b: { auth: { tokens: ['same'], signingSecrets: [] } },
          },
          admin: { tokens: [] },
        });
      } catch (e) {
        return e;
      }
    })();
    t.type(err, ConfigError);
    const paths = (err as ConfigError).issues.map((i) => i.path);
    t.same(paths.sort(), [
      'tenants.a.auth.signingSecrets.0',
      'tenants.a.auth.tokens.0',
      'tenants.b.auth.tokens.0',
    ]);
  },
);

t.test('http-auth - a Standard Webhooks signature verifies within the tolerance', async (t) => {
  const body = '{"type":"x"}';
  const ok = verifySignature(auth, signed(body), NOW, 300);
  t.ok(ok.ok);
  if (ok.ok) {
    t.same(ok.principal, { kind: 'tenant', tenant: 'acme', via: 'signature' });
    t.match(ok.replayKey, /^[0-9a-f]{64}$/);
  }
  // The signature is over "<id>.<timestamp>.<body>" with the base64-decoded whsec_ key.
  const expected = sign(signingKey(SECRET), 'msg_1', String(NOW / 1000), body);
  t.equal(signed(body).signature, `v1,${expected}`);
  t.ok(verifySignature(auth, signed(body, { ts: NOW / 1000 - 299 }), NOW, 300).ok, '299 s old');
  t.ok(verifySignature(auth, signed(body, { ts: NOW / 1000 + 299 }), NOW, 300).ok, '299 s ahead');
  // Key rotation: any of several space-separated signatures may match.
  const s = signed(body);
  t.ok(verifySignature(auth, { ...s, signature: `v1,AAAA ${s.signature}` }, NOW, 300).ok);
});

t.test(
  'http-auth - expired, tampered, foreign and malformed signatures are refused with a code',
  async (t) => {
    const body = '{"type":"x"}';
    const code = (r: ReturnType<typeof verifySignature>) => (r.ok ? 'ok' : r.code);
    t.equal(
      code(verifySignature(auth, signed(body, { ts: NOW / 1000 - 301 }), NOW, 300)),
      'SIGNATURE_EXPIRED',
    );
    t.equal(
      code(verifySignature(auth, signed(body, { ts: NOW / 1000 + 301 }), NOW, 300)),
      'SIGNATURE_EXPIRED',
    );
    t.equal(
      code(verifySignature(auth, { ...signed(body), body: Buffer.from('{"type":"y"}') }, NOW, 300)),
      'BAD_SIGNATURE',
    );
    t.equal(code(verifySignature(auth, { ...signed(body), id: 'msg_2' }, NOW, 300)), 'BAD_SIGNATURE');
    const other = `whsec_${Buffer.from('another-secret-0123456789abc').toString('base64')}`;
    t.equal(code(verifySignature(auth, signed(body, { secret: other }), NOW, 300)), 'BAD_SIGNATURE');
    t.equal(
      code(verifySignature(auth, signed(body, { tenant: 'globex' }), NOW, 300)),
      'UNKNOWN_TENANT',
      'no secret',
    );
    t.equal(code(verifySignature(auth, signed(body, { tenant: 'nobody' }), NOW, 300)), 'UNKNOWN_TENANT');
    t.equal(
      code(verifySignature(auth, { ...signed(body), timestamp: 'soon' }, NOW, 300)),
      'MALFORMED_SIGNATURE',
    );
    t.equal(code(verifySignature(auth, { ...signed(body), signature: 'v2,abc' }, NOW, 300)), 'BAD_SIGNATURE');
  },
);

t.test('http-auth - the replay key identifies the signed message, not the body', async (t) => {
  const a = verifySignature(auth, signed('{"a":1}', { id: 'm1' }), NOW, 300);
  const b = verifySignature(auth, signed('{"a":1}', { id: 'm1' }), NOW, 300);
  const c = verifySignature(auth, signed('{"a":1}', { id: 'm1', ts: NOW / 1000 + 1 }), NOW, 300);
  t.ok(a.ok && b.ok && c.ok);
  if (a.ok && b.ok && c.ok) {
    t.equal(a.replayKey, b.replayKey, 'the same request twice has the same key');
    t.not(a.replayKey, c.replayKey, 'a re-signed retry (new timestamp) is a new request');
  }
});
