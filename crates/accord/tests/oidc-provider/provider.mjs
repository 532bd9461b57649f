// A small, real OpenID Provider for Accord's integration tests, built on
// panva's `oidc-provider`. See README.md in this directory.
//
// stdout carries exactly one line, `{"issuer":"http://127.0.0.1:<port>"}`,
// printed once the server listens. Everything else goes to stderr.

import { AsyncLocalStorage } from 'node:async_hooks';
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import process from 'node:process';

// oidc-provider writes its notices with console.info (stdout). Keep stdout
// reserved for the issuer line by sending every console method to stderr.
// This has to happen before oidc-provider is loaded, hence the dynamic import.
for (const method of ['log', 'info', 'debug', 'trace']) {
  console[method] = (...args) => console.error(...args);
}
const { default: Provider, interactionPolicy, errors } = await import('oidc-provider');

const { Check } = interactionPolicy;
const HOST = '127.0.0.1';
const SCOPES = ['openid', 'email', 'profile'];

function fail(message, error) {
  process.stderr.write(`oidc-provider (test OP): ${message}${error ? `: ${error.stack || error}` : ''}\n`);
  process.exit(1);
}

const port = process.env.PORT === undefined || process.env.PORT === '' ? 0 : Number(process.env.PORT);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  fail(`invalid PORT ${JSON.stringify(process.env.PORT)}`);
}

// --- accounts ---------------------------------------------------------------
// No database: any id is a valid account. The id doubles as the `sub`.
//   alice@example.com            -> email alice@example.com, email_verified true
//   bob+unverified@example.com   -> email_verified false
//   carol (no '@')               -> no email / email_verified claims
function accountClaims(id) {
  const at = id.lastIndexOf('@');
  const local = at === -1 ? id : id.slice(0, at);
  const claims = {
    sub: id,
    name: `Test ${local}`,
    given_name: 'Test',
    family_name: local,
  };
  if (at !== -1) {
    claims.email = id;
    claims.email_verified = !local.includes('+unverified');
  }
  return claims;
}

async function findAccount(ctx, id) {
  if (typeof id !== 'string' || id === '') return undefined;
  return {
    accountId: id,
    async claims() {
      return accountClaims(id);
    },
  };
}

// --- interaction policy -----------------------------------------------------
// The default policy never re-authenticates an existing OP session. Add a
// check so that a login_hint naming a different account than the one logged
// in (same cookie jar, other user) goes through the interaction again, where
// the old OP session is dropped and the new account is logged in.
const policy = interactionPolicy.base();
policy.get('login').checks.add(new Check(
  'login_hint_mismatch',
  'login_hint does not match the authenticated End-User',
  (ctx) => {
    const hint = ctx.oidc.params.login_hint;
    const current = ctx.oidc.session.accountId;
    return Boolean(hint && current && hint !== current);
  },
));

// --- minimal HTML / JSON pages ---------------------------------------------
function htmlEscape(value) {
  return String(value)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

// RP-initiated logout confirmation. `form` is oidc-provider's
// <form id="op.logoutForm" method="post" action=".../session/end/confirm">
// with a hidden `xsrf` input. We add `logout=yes` and auto-submit it so a
// browser goes straight through; a plain HTTP client POSTs
// xsrf=<value>&logout=yes to /session/end/confirm with the same cookies.
async function logoutSource(ctx, form) {
  ctx.type = 'html';
  ctx.body = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Sign out</title></head>
<body>
${form.replace('</form>', '<input type="hidden" name="logout" value="yes"/></form>')}
<button type="submit" form="op.logoutForm">Sign out</button>
<script>document.forms[0].submit()</script>
</body></html>`;
}

async function postLogoutSuccessSource(ctx) {
  ctx.type = 'html';
  ctx.body = '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Signed out</title></head><body><p>Signed out.</p></body></html>';
}

// Errors that cannot be redirected back to the client are rendered as JSON
// (status is already set by oidc-provider).
async function renderError(ctx, out) {
  ctx.type = 'json';
  ctx.body = out;
}

// --- server -----------------------------------------------------------------
let handler = (req, res) => {
  res.statusCode = 503;
  res.end();
};
const server = createServer((req, res) => handler(req, res));

server.on('error', (err) => fail('server error', err));

server.listen(port, HOST, () => {
  const issuer = `http://${HOST}:${server.address().port}`;

  let provider;
  try {
    provider = buildProvider(issuer);
  } catch (err) {
    fail('could not configure the provider', err);
  }
  handler = provider.callback();

  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

function buildProvider(issuer) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const signingKey = {
    ...privateKey.export({ format: 'jwk' }),
    kid: randomUUID(),
    alg: 'RS256',
    use: 'sig',
  };

  const provider = new Provider(issuer, {
    jwks: { keys: [signingKey] },
    findAccount,

    scopes: SCOPES,
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name'],
    },
    // Put scope-requested claims into the ID Token as well, so a relying party
    // that never calls userinfo still receives email/email_verified.
    conformIdTokenClaims: false,

    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
    responseTypes: ['code'],

    pkce: {
      methods: ['S256'],
      required: () => false,
    },

    features: {
      devInteractions: { enabled: false },
      registration: { enabled: true, initialAccessToken: false },
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
      userinfo: { enabled: true },
      // Off so that a stray `resource` parameter is ignored instead of
      // failing with invalid_target (no resource servers are configured).
      resourceIndicators: { enabled: false },
      introspection: { enabled: false },
      revocation: { enabled: false },
    },

    interactions: {
      policy,
      url: (ctx, interaction) => `/interaction/${interaction.uid}`,
    },

    cookies: {
      keys: [randomBytes(32).toString('base64url'), randomBytes(32).toString('base64url')],
      // Lax rather than the library's SameSite=None (which browsers drop on
      // plain http without Secure); every hop here is a top-level navigation.
      long: { httpOnly: true, sameSite: 'lax' },
      short: { httpOnly: true, sameSite: 'lax' },
    },

    // Explicit lifetimes (seconds); also silences the library's notices.
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 60,
      BackchannelAuthenticationRequest: 600,
      ClientCredentials: 600,
      DeviceCode: 600,
      Grant: 86400,
      IdToken: 3600,
      Interaction: 3600,
      RefreshToken: 86400,
      Session: 86400,
    },

    clientBasedCORS: () => true,
    renderError,
  });

  // Error responses are logged to stderr with oidc-provider's internal detail
  // (e.g. "PKCE verification failed" behind a bare invalid_grant).
  provider.on('server_error', (ctx, err) => {
    process.stderr.write(`oidc-provider server_error ${ctx.method} ${ctx.path}: ${err.stack || err}\n`);
  });
  for (const event of [
    'authorization.error', 'grant.error', 'userinfo.error', 'registration_create.error',
    'end_session.error', 'end_session_confirm.error', 'end_session_success.error',
    'discovery.error', 'jwks.error', 'pushed_authorization_request.error',
  ]) {
    provider.on(event, (ctx, err) => {
      const detail = err.error_detail ? ` (${err.error_detail})` : '';
      process.stderr.write(`oidc-provider ${event} ${ctx.method} ${ctx.path}: ${err.error}: ${err.error_description}${detail}\n`);
    });
  }

  // Strict token endpoint authentication. oidc-provider treats
  // client_secret_basic and client_secret_post as interchangeable; here a
  // client must use the method it registered, so tests notice a relying party
  // that sends its secret the wrong way (401 invalid_client).
  const requestContext = new AsyncLocalStorage();
  provider.use((ctx, next) => requestContext.run(ctx, next));
  const compareClientSecret = provider.Client.prototype.compareClientSecret;
  provider.Client.prototype.compareClientSecret = function strictCompareClientSecret(actual) {
    const ctx = requestContext.getStore();
    const registered = this.clientAuthMethod;
    if (ctx && (registered === 'client_secret_basic' || registered === 'client_secret_post')) {
      const used = ctx.get('authorization') ? 'client_secret_basic' : 'client_secret_post';
      if (used !== registered) {
        throw new errors.InvalidClientAuth(
          `client is registered for ${registered} but authenticated with ${used}`,
        );
      }
    }
    return compareClientSecret.call(this, actual);
  };

  // GET /interaction/:uid — non-interactive login + consent driven by the
  // authorization request's login_hint. Mounted before the provider's routes.
  provider.use(async (ctx, next) => {
    const match = ctx.method === 'GET' && /^\/interaction\/([^/]+)\/?$/.exec(ctx.path);
    if (!match) {
      await next();
      return;
    }
    ctx.set('cache-control', 'no-store');

    const reject = (status, description) => {
      ctx.status = status;
      ctx.type = 'json';
      ctx.body = { error: 'invalid_request', error_description: description };
    };

    let details;
    try {
      details = await provider.interactionDetails(ctx.req, ctx.res);
    } catch (err) {
      reject(400, `interaction not found: ${err.message}`);
      return;
    }
    if (details.uid !== match[1]) {
      reject(400, 'interaction cookie does not match the requested interaction');
      return;
    }

    const { params, prompt } = details;
    const accountId = params.login_hint;
    if (typeof accountId !== 'string' || accountId === '') {
      reject(400, 'login_hint is required: it names the account to log in (e.g. alice@example.com)');
      return;
    }

    let { grantId } = details;

    // Same cookie jar, other account: drop the old OP session so that the
    // resumed authorization logs the new account in instead of asking the
    // browser to confirm a logout.
    if (details.session?.accountId && details.session.accountId !== accountId) {
      const old = await provider.Session.findByUid(details.session.uid);
      if (old) await old.destroy();
      details.session = undefined;
      details.grantId = undefined;
      grantId = undefined;
      await details.save(details.exp - Math.floor(Date.now() / 1000));
    }

    let grant = grantId ? await provider.Grant.find(grantId) : undefined;
    if (!grant || grant.accountId !== accountId || grant.clientId !== params.client_id) {
      grant = new provider.Grant({ accountId, clientId: params.client_id });
    }

    const scope = [...new Set([
      ...String(params.scope || '').split(' ').filter(Boolean),
      ...(prompt.details.missingOIDCScope || []),
    ])];
    if (scope.length) grant.addOIDCScope(scope.join(' '));

    const claims = new Set(prompt.details.missingOIDCClaims || []);
    if (params.claims) {
      try {
        const requested = typeof params.claims === 'string' ? JSON.parse(params.claims) : params.claims;
        for (const container of ['id_token', 'userinfo']) {
          for (const claim of Object.keys(requested?.[container] || {})) claims.add(claim);
        }
      } catch {
        // malformed claims parameter: oidc-provider rejects it before we get here
      }
    }
    if (claims.size) grant.addOIDCClaims([...claims]);

    for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes || {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }

    grantId = await grant.save();

    ctx.respond = false;
    await provider.interactionFinished(
      ctx.req,
      ctx.res,
      { login: { accountId }, consent: { grantId } },
      { mergeWithLastSubmission: false },
    );
  });

  return provider;
}

// --- lifecycle --------------------------------------------------------------
function shutdown() {
  server.close();
  server.closeAllConnections?.();
  process.exit(0);
}

process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

// Die with the parent: exit when stdin reaches EOF / is closed. Spawn with a
// piped stdin and keep the write end open. Set OIDC_PROVIDER_KEEP_STDIN=1 to
// disable (e.g. when starting it by hand with </dev/null).
if (process.env.OIDC_PROVIDER_KEEP_STDIN !== '1') {
  process.stdin.on('end', shutdown);
  process.stdin.on('close', shutdown);
  process.stdin.on('error', shutdown);
  process.stdin.on('data', () => {});
  process.stdin.resume();
}
