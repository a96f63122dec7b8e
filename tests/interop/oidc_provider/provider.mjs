// Interop test harness: panva's oidc-provider (OpenID-certified) on 127.0.0.1.
//
// TEST HARNESS ONLY. Never deploy this: it has fixed client secrets, and it exposes the
// unauthenticated `/__control/*` routes described below, which exist only in this harness
// (they are not part of oidc-provider).
//
// Usage: node provider.mjs [port]       (or PORT=... ; 0 or nothing = a random free port)
//
// When listening it prints exactly ONE JSON line on stdout, e.g.
//   {"issuer":"http://127.0.0.1:40123","port":40123,"pid":123,"clients":{...},"resources":{...}}
// and then runs until SIGTERM / SIGINT (clean exit, code 0). Diagnostics go to stderr only.
//
// Tokens: grant `client_credentials` with a `resource` parameter (RFC 8707) gives an RFC 9068
// JWT access token (`typ: at+jwt`, `aud` = the resource, `scope` = requested scopes that the
// resource knows; unknown scopes are dropped silently by oidc-provider). Without `resource`,
// the token is opaque: read it at /token/introspection (RFC 7662), revoke it at
// /token/revocation (RFC 7009). With a `DPoP` proof header on the token request (RFC 9449),
// the token is bound to the proof's key (`cnf.jkt`, `token_type: DPoP`).
//
// Signing algorithm of a token:
//   - client `interop-client-rs256` -> always RS256, client `interop-client-es256` -> always ES256;
//   - client `interop-client` -> the resource's default: https://es.api.example.test is ES256,
//     every other resource RS256.
// (oidc-provider only accepts the parameters of the grant at the token endpoint, so the client
// is the standard-conforming way to choose the algorithm per token.)
//
// Key rotation on the running process (same port, same issuer). oidc-provider reads its `jwks`
// configuration once, in the Provider constructor, into private state, and has no public API to
// change it. So this harness owns the HTTP server and builds a NEW Provider instance with the new
// key set, then swaps the request handler; nothing else changes (issuer, port, clients).
// JWT access tokens are self-contained, so no provider state needs to survive the swap.
//   POST /__control/rotate   generate a new RS256 and a new ES256 key, publish them in front of
//                            the old keys; new tokens are signed with the new keys, old keys stay
//                            published (old tokens still verify). Optional `?alg=RS256|ES256`
//                            rotates only that algorithm.
//   POST /__control/retire   drop every key that no longer signs (the JWKS keeps only the
//                            current signing keys).
//   GET  /__control/state    current signing kids per algorithm and published kids.
// Each answers 200 with the state as JSON: {"signing": {"RS256": kid, "ES256": kid},
// "published": [kid, ...], "generation": n}.

import { generateKeyPair, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import { promisify } from 'node:util';

import Provider, { errors } from 'oidc-provider';

const generateKeyPairAsync = promisify(generateKeyPair);

const API_RESOURCE = 'https://api.example.test';
const ES_RESOURCE = 'https://es.api.example.test';
const OTHER_RESOURCE = 'https://other.example.test';
const SCOPES = 'read:items write:items';

// resource indicator -> default signing algorithm. Each resource knows the same scopes.
const RESOURCES = {
  [API_RESOURCE]: 'RS256',
  [ES_RESOURCE]: 'ES256',
  [OTHER_RESOURCE]: 'RS256',
};

// client_id -> { secret, alg } (alg undefined: the resource's default).
const CLIENTS = {
  'interop-client': { secret: 'interop-secret', alg: undefined },
  'interop-client-rs256': { secret: 'interop-secret-rs256', alg: 'RS256' },
  'interop-client-es256': { secret: 'interop-secret-es256', alg: 'ES256' },
};

const ACCESS_TOKEN_TTL = 300; // seconds

function log(...args) {
  process.stderr.write(`[oidc-provider harness] ${args.join(' ')}\n`);
}

function parsePort() {
  const raw = process.argv[2] ?? process.env.PORT ?? '0';
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TypeError(`invalid port: ${raw}`);
  }
  return port;
}

// ---- keys ------------------------------------------------------------------------------------

let generation = 0;

async function newSigningKey(alg) {
  const kid = `${alg.toLowerCase()}-${generation}-${randomBytes(6).toString('hex')}`;
  const { privateKey } = alg === 'RS256'
    ? await generateKeyPairAsync('rsa', { modulusLength: 2048 })
    : await generateKeyPairAsync('ec', { namedCurve: 'P-256' });
  return { ...privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
}

const state = {
  keys: [], // private JWKs, published in this order (public parts only) by oidc-provider
  signing: {}, // alg -> kid that signs new tokens
};

function describe() {
  return {
    signing: { ...state.signing },
    published: state.keys.map((k) => k.kid),
    generation,
  };
}

// ---- provider ----------------------------------------------------------------------------------

function buildProvider(issuer) {
  const configuration = {
    jwks: { keys: state.keys.map((k) => ({ ...k })) },
    clients: Object.entries(CLIENTS).map(([clientId, { secret }]) => ({
      client_id: clientId,
      client_secret: secret,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
    })),
    // Scopes an opaque (no `resource`) client-credentials token may carry.
    scopes: SCOPES.split(' '),
    features: {
      clientCredentials: { enabled: true },
      devInteractions: { enabled: false },
      // DPoP (RFC 9449): a token request with a DPoP proof gets a token bound to its key.
      dPoP: { enabled: true },
      // RFC 7662 and RFC 7009, for opaque tokens: any authenticated client may introspect.
      introspection: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // no default resource: a token request without `resource` gets an opaque token
        defaultResource: async () => undefined,
        useGrantedResource: async () => false,
        getResourceServerInfo: async (_ctx, resourceIndicator, client) => {
          const defaultAlg = RESOURCES[resourceIndicator];
          if (defaultAlg === undefined) {
            throw new errors.InvalidTarget();
          }
          const alg = CLIENTS[client.clientId]?.alg ?? defaultAlg;
          return {
            scope: SCOPES,
            audience: resourceIndicator,
            accessTokenTTL: ACCESS_TOKEN_TTL,
            accessTokenFormat: 'jwt',
            // the kid pins the CURRENT key of that algorithm (the keystore holds old ones too)
            jwt: { sign: { alg, kid: state.signing[alg] } },
          };
        },
      },
    },
  };
  const provider = new Provider(issuer, configuration);
  provider.on('server_error', (_ctx, err) => log('server_error:', err?.stack ?? String(err)));
  return provider;
}

// ---- control routes (TEST HARNESS ONLY) --------------------------------------------------------

let handler = null; // the current oidc-provider request listener
let queue = Promise.resolve(); // serialises rotations

function serialised(fn) {
  const run = queue.then(fn);
  queue = run.catch(() => {});
  return run;
}

async function rotate(issuer, algs) {
  generation += 1;
  const fresh = await Promise.all(algs.map((alg) => newSigningKey(alg)));
  state.keys = [...fresh, ...state.keys];
  for (const key of fresh) state.signing[key.alg] = key.kid;
  handler = buildProvider(issuer).callback();
  log('rotated; signing', JSON.stringify(state.signing));
}

async function retire(issuer) {
  const current = new Set(Object.values(state.signing));
  state.keys = state.keys.filter((k) => current.has(k.kid));
  handler = buildProvider(issuer).callback();
  log('retired; published', state.keys.map((k) => k.kid).join(' '));
}

function sendJson(res, status, body) {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    'cache-control': 'no-store',
  });
  res.end(payload);
}

async function control(issuer, req, res, url) {
  const route = url.pathname.slice('/__control/'.length);
  try {
    if (route === 'state' && req.method === 'GET') {
      sendJson(res, 200, describe());
    } else if (route === 'rotate' && req.method === 'POST') {
      const only = url.searchParams.get('alg');
      if (only !== null && !['RS256', 'ES256'].includes(only)) {
        sendJson(res, 400, { error: 'alg must be RS256 or ES256' });
        return;
      }
      await serialised(() => rotate(issuer, only ? [only] : ['RS256', 'ES256']));
      sendJson(res, 200, describe());
    } else if (route === 'retire' && req.method === 'POST') {
      await serialised(() => retire(issuer));
      sendJson(res, 200, describe());
    } else {
      sendJson(res, 404, { error: 'unknown control route' });
    }
  } catch (err) {
    log('control error:', err?.stack ?? String(err));
    sendJson(res, 500, { error: String(err) });
  }
}

// ---- main --------------------------------------------------------------------------------------

async function main() {
  const port = parsePort();
  let issuer = null;
  const server = http.createServer((req, res) => {
    if (handler === null) {
      req.resume();
      sendJson(res, 503, { error: 'starting' });
      return;
    }
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname.startsWith('/__control/')) {
      req.resume();
      control(issuer, req, res, url);
      return;
    }
    handler(req, res);
  });
  // the issuer contains the port, so listen first (port 0: the OS picks), then build the provider
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const actualPort = server.address().port;
  issuer = `http://127.0.0.1:${actualPort}`;

  // initial keys: one RS256 and one ES256 key, generation 0
  const initial = await Promise.all([newSigningKey('RS256'), newSigningKey('ES256')]);
  state.keys = initial;
  for (const key of initial) state.signing[key.alg] = key.kid;
  handler = buildProvider(issuer).callback();

  let closing = false;
  const shutdown = (signal) => {
    if (closing) return;
    closing = true;
    log(`${signal}: closing`);
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  process.stdout.write(`${JSON.stringify({
    issuer,
    port: actualPort,
    pid: process.pid,
    clients: Object.fromEntries(Object.entries(CLIENTS).map(([id, { secret, alg }]) => [
      id, { client_secret: secret, alg: alg ?? null },
    ])),
    resources: RESOURCES,
    scopes: SCOPES.split(' '),
    signing: { ...state.signing },
  })}\n`);
}

main().catch((err) => {
  log('failed to start:', err?.stack ?? String(err));
  process.exit(1);
});
