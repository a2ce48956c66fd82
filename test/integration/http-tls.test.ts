/**
 * HTTPS and mutual TLS on the API listener, with certificates made by openssl for the test: a CA, a server
 * certificate for 127.0.0.1, a client certificate from the same CA and one from a stranger.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { start } from '../../src/main.js';
import { createLogger } from '../../src/obs/logger.js';
import { ACME_TOKEN, httpTestConfig, testApp } from '../helpers/http-fakes.js';
import { startTestNats } from '../helpers/nats-server.js';
import { tempDir, testConfig } from '../helpers/parley.js';

const dir = tempDir(t, 'parley-tls-');
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function issue(name: string, ca: string, ext: string): void {
  openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.pem`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-out',
    `${name}.pem`,
    '-days',
    '1',
    '-extfile',
    `${name}.ext`,
  );
}

for (const ca of ['ca', 'stranger-ca']) {
  openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    `${ca}.key`,
    '-out',
    `${ca}.pem`,
    '-days',
    '1',
    '-subj',
    `/CN=parley-test-${ca}`,
  );
}
issue('server', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
issue('client', 'ca', 'extendedKeyUsage=clientAuth\n');
issue('stranger', 'stranger-ca', 'extendedKeyUsage=clientAuth\n');
const pem = (name: string) => readFileSync(join(dir, name));

interface Reply {
  status: number;
  body: string;
}

function https(
  url: string,
  options: { client?: string; method?: string; body?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? 'GET',
        ca: pem('ca.pem'),
        ...(options.client ? { cert: pem(`${options.client}.pem`), key: pem(`${options.client}.key`) } : {}),
        headers: { authorization: `Bearer ${ACME_TOKEN}`, 'content-type': 'application/json' },
      },
      (res) => {
        let body = '';
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

async function listen(t: Test, clientAuth: 'none' | 'request' | 'require') {
  const { app } = testApp(t, {
    tls: { key: pem('server.key'), cert: pem('server.pem'), ca: pem('ca.pem'), clientAuth },
  });
  return app.listen({ host: '127.0.0.1', port: 0 });
}

const event = JSON.stringify({ id: 'e1', type: 'x', conversation: 'c1', occurredAt: '2026-01-01T00:00:00Z' });

t.test('http-tls - HTTPS with the server certificate; plain HTTP is not served', async (t) => {
  const url = await listen(t, 'none');
  t.match(url, /^https:\/\//);
  t.same(await https(`${url}/healthz`), { status: 200, body: '{"status":"ok"}' });
  await t.rejects(fetch(url.replace('https:', 'http:') + '/healthz'), 'plain HTTP fails');
});

t.test(
  'http-tls - mTLS require: no or a stranger certificate fails the handshake, ours passes',
  async (t) => {
    const url = await listen(t, 'require');
    await t.rejects(https(`${url}/healthz`), 'no client certificate');
    await t.rejects(https(`${url}/healthz`, { client: 'stranger' }), 'certificate from another CA');
    t.equal((await https(`${url}/healthz`, { client: 'client' })).status, 200);
    const posted = await https(`${url}/v1/events`, { client: 'client', method: 'POST', body: event });
    t.equal(posted.status, 202, 'and the bearer token still decides the tenant');
  },
);

t.test('http-tls - mTLS request: a certificate is optional but must verify when offered', async (t) => {
  const url = await listen(t, 'request');
  t.equal((await https(`${url}/v1/events`, { method: 'POST', body: event })).status, 202, 'without one');
  t.equal((await https(`${url}/v1/events`, { client: 'client', method: 'POST', body: event })).status, 202);
  const stranger = await https(`${url}/v1/events`, { client: 'stranger', method: 'POST', body: event });
  t.equal(stranger.status, 401);
  t.match(JSON.parse(stranger.body), { error: { code: 'CLIENT_CERTIFICATE_INVALID' } });
});

t.test('http-tls - the http.tls config keys make the ingest role serve HTTPS with mTLS', async (t) => {
  const nats = await startTestNats(t, { partitions: 4 });
  const config = testConfig(t, nats.url, 4, {
    tenants: httpTestConfig().tenants,
    http: {
      host: '127.0.0.1',
      port: 0,
      tls: {
        cert: join(dir, 'server.pem'),
        key: join(dir, 'server.key'),
        ca: join(dir, 'ca.pem'),
        clientAuth: 'require',
      },
    },
  });
  const parley = await start(config, { roles: ['ingest'], logger: createLogger({ level: 'silent' }) });
  t.teardown(() => parley.stop());
  const url = parley.ingest!.url;
  t.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);
  await t.rejects(https(`${url}/healthz`));
  const posted = await https(`${url}/v1/events`, { client: 'client', method: 'POST', body: event });
  t.equal(posted.status, 202, posted.body);
});
