// A real RFC 8628 authorization server for synod-auth's integration tests, on 127.0.0.1 only.
//
// It is `oidc-provider` (pinned in package.json) with the device flow, revocation and refresh
// token rotation enabled. The device-flow protocol (device authorization endpoint, token
// endpoint, the verification pages at /device) is the provider's own. This script adds only:
//   * a trivial login/consent interaction (POST /interaction/:uid/login, /confirm, /abort),
//   * an `interval` field in the device authorization response (the provider omits it),
//   * test knobs from environment variables (below), and
//   * an event log of every token and revocation request, read with GET /__events, and
//   * a hold on one token request: after POST /__hold_next_token the next POST /token is
//     parked before the provider sees it (event `token_held`) until POST /__release lets it
//     through, or its client disconnects (event `token_dropped`; the provider never sees the
//     request, so a refresh token in it stays valid). This lets a test kill a process while
//     it holds the refresh lock with its refresh request in flight.
//
// Knobs (all optional):
//   SYNOD_TEST_INTERVAL          seconds advertised as `interval` (default 1; "absent" omits it)
//   SYNOD_TEST_DEVICE_TTL        device code lifetime in seconds (default 60)
//   SYNOD_TEST_ADVERTISED_TTL    `expires_in` to advertise instead of the real lifetime
//   SYNOD_TEST_ACCESS_TTL        access token lifetime in seconds (default 3600)
//   SYNOD_TEST_SLOW_DOWN_AT      answer the Nth device-code poll with slow_down instead of
//                                authorization_pending, and from then on enforce interval + 5 s
//   SYNOD_TEST_ERRORS_WITH_200   "1": send token endpoint errors with HTTP 200 (like GitHub)
//   SYNOD_TEST_RFC8414_ONLY      "1": no OpenID Connect discovery document; the same metadata
//                                at /.well-known/oauth-authorization-server (RFC 8414) instead
//
// The first line on stdout is `{"event":"listening","port":N}`.
import http from 'node:http';
import Provider, { errors } from 'oidc-provider';

const env = (name, fallback) => process.env[name] ?? fallback;
const intervalSetting = env('SYNOD_TEST_INTERVAL', '1');
const interval = intervalSetting === 'absent' ? null : Number(intervalSetting);
const deviceTtl = Number(env('SYNOD_TEST_DEVICE_TTL', '60'));
const advertisedTtl = process.env.SYNOD_TEST_ADVERTISED_TTL
  ? Number(process.env.SYNOD_TEST_ADVERTISED_TTL) : null;
const accessTtl = Number(env('SYNOD_TEST_ACCESS_TTL', '3600'));
const slowDownAt = Number(env('SYNOD_TEST_SLOW_DOWN_AT', '0'));
const errorsWith200 = env('SYNOD_TEST_ERRORS_WITH_200', '0') === '1';
const rfc8414Only = env('SYNOD_TEST_RFC8414_ONLY', '0') === '1';

const clientBase = {
  grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
  response_types: [],
  redirect_uris: [],
};

const events = [];
let devicePolls = 0;
let enforcedInterval = null; // seconds; set once slow_down has been sent
let lastDevicePoll = null;
let holdNextToken = false;
let releaseHeld = null; // resolves the parked token request's wait

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      { ...clientBase, client_id: 'basic-client', client_secret: 'basic-secret-value', token_endpoint_auth_method: 'client_secret_basic' },
      { ...clientBase, client_id: 'post-client', client_secret: 'post-secret-value', token_endpoint_auth_method: 'client_secret_post' },
      { ...clientBase, client_id: 'public-client', token_endpoint_auth_method: 'none' },
    ],
    features: {
      deviceFlow: { enabled: true },
      revocation: { enabled: true },
      devInteractions: { enabled: false },
    },
    findAccount: async (_ctx, sub) => ({
      accountId: sub,
      claims: async () => ({ sub }),
    }),
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: () => true,
    ttl: {
      AccessToken: accessTtl,
      DeviceCode: deviceTtl,
      RefreshToken: 86400,
      Grant: 86400,
      Interaction: 600,
      Session: 86400,
      IdToken: 3600,
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    cookies: { keys: ['synod-test-cookie-key'] },
    pkce: { required: () => false },
  });

  // Event log and test knobs around the provider's own endpoints.
  provider.use(async (ctx, next) => {
    const started = Date.now();
    await next();
    const body = ctx.body && typeof ctx.body === 'object' ? ctx.body : {};
    if (ctx.path === '/device/auth' && ctx.method === 'POST' && body.device_code) {
      if (interval !== null) body.interval = interval;
      if (advertisedTtl !== null) body.expires_in = advertisedTtl;
    }
    if (ctx.path === '/token' && ctx.method === 'POST') {
      const grantType = ctx.oidc?.params?.grant_type ?? null;
      const isDevice = grantType === 'urn:ietf:params:oauth:grant-type:device_code';
      let tooFast = false;
      if (isDevice) {
        devicePolls += 1;
        if (enforcedInterval !== null && lastDevicePoll !== null
          && started - lastDevicePoll < enforcedInterval * 1000 - 250) {
          tooFast = true;
          body.error = 'slow_down';
          body.error_description = 'polled faster than the enforced interval';
          enforcedInterval += 5;
        } else if (devicePolls === slowDownAt && body.error === 'authorization_pending') {
          body.error = 'slow_down';
          body.error_description = 'you are polling too quickly and should back off at a reasonable rate';
          enforcedInterval = (interval ?? 5) + 5;
        }
        lastDevicePoll = started;
      }
      events.push({
        event: 'token',
        grant_type: grantType,
        at_ms: started,
        status: ctx.status,
        error: body.error ?? null,
        too_fast: tooFast,
        auth: ctx.get('authorization') ? 'basic' : 'post_or_none',
      });
      if (errorsWith200 && body.error && ctx.status >= 400) ctx.status = 200;
    }
    if (ctx.path === '/token/revocation' && ctx.method === 'POST') {
      events.push({
        event: 'revocation',
        token_type_hint: ctx.oidc?.params?.token_type_hint ?? null,
        at_ms: started,
        status: ctx.status,
      });
    }
    if (ctx.path === '/device/auth' && ctx.method === 'POST') {
      events.push({ event: 'device_authorization', at_ms: started, status: ctx.status });
    }
  });

  const callback = provider.callback();

  const readForm = (req) => new Promise((resolve, reject) => {
    let data = '';
    req.on('data', (chunk) => { data += chunk; });
    req.on('end', () => resolve(new URLSearchParams(data)));
    req.on('error', reject);
  });

  server.on('request', async (req, res) => {
    try {
      const url = new URL(req.url, issuer);
      if (rfc8414Only && url.pathname === '/.well-known/openid-configuration') {
        res.statusCode = 404;
        res.end();
        return;
      }
      if (rfc8414Only && url.pathname === '/.well-known/oauth-authorization-server') {
        req.url = '/.well-known/openid-configuration';
      }
      if (url.pathname === '/__events' && req.method === 'GET') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(events));
        return;
      }
      if (url.pathname === '/__hold_next_token' && req.method === 'POST') {
        holdNextToken = true;
        res.end();
        return;
      }
      if (url.pathname === '/__release' && req.method === 'POST') {
        const release = releaseHeld;
        releaseHeld = null;
        if (release) release();
        res.statusCode = release ? 200 : 409;
        res.end();
        return;
      }
      if (holdNextToken && url.pathname === '/token' && req.method === 'POST') {
        holdNextToken = false;
        events.push({ event: 'token_held', at_ms: Date.now() });
        const released = await new Promise((resolve) => {
          releaseHeld = () => resolve(true);
          req.socket.once('close', () => resolve(false));
        });
        if (!released) {
          releaseHeld = null;
          events.push({ event: 'token_dropped', at_ms: Date.now() });
          return;
        }
        events.push({ event: 'token_released', at_ms: Date.now() });
      }
      const m = url.pathname.match(/^\/interaction\/([^/]+)(?:\/(login|confirm|abort))?$/);
      if (m) {
        const details = await provider.interactionDetails(req, res);
        const action = m[2];
        if (!action) {
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ uid: details.uid, prompt: details.prompt.name }));
          return;
        }
        if (req.method !== 'POST') {
          res.statusCode = 405;
          res.end();
          return;
        }
        const form = await readForm(req);
        if (action === 'login') {
          await provider.interactionFinished(req, res, {
            login: { accountId: form.get('login') || 'synod-test-user' },
          }, { mergeWithLastSubmission: false });
          return;
        }
        if (action === 'confirm') {
          const { prompt: { details: missing }, params, session: { accountId } } = details;
          let grant = details.grantId
            ? await provider.Grant.find(details.grantId)
            : new provider.Grant({ accountId, clientId: params.client_id });
          if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
          if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
          if (missing.missingResourceScopes) {
            for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
              grant.addResourceScope(indicator, scopes.join(' '));
            }
          }
          const grantId = await grant.save();
          await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
          return;
        }
        await provider.interactionFinished(req, res, {
          error: 'access_denied',
          error_description: 'the test user denied the request',
        }, { mergeWithLastSubmission: false });
        return;
      }
      callback(req, res);
    } catch (err) {
      res.statusCode = err instanceof errors.SessionNotFound ? 400 : 500;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ error: 'test_server_error', error_description: String(err) }));
    }
  });

  process.stdout.write(`${JSON.stringify({ event: 'listening', port })}\n`);
});

process.stdout.on('error', () => {});

// Exit when the test harness closes our stdin (so a killed test never leaves a server behind).
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
