'use strict';
// A g2g consumer in Node.js, from docs/PROTOCOL.md and docs/PKI.md alone.
//   node consumer.js --image IMAGE.binpb --registry agencies.yaml --pki DIR \
//        --as ID/GOV/POLRI [--to ID/GOV/IMIGRASI] --service pkg.Svc/Method \
//        --purpose P [--legal-basis L] --json '{...}' [--broker HOST:PORT] [--timeout S]
// Prints one JSON line: {"ok": true, "header": {...}, "payload": {...}} or
// {"ok": false, "code": "...", "domain": "...", "reason": "...", "metadata": {...}}.
// Exit 0 on an answer, 2 on a refusal, 1 on a usage or local error.
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const tls = require('tls');
const grpc = require('@grpc/grpc-js');
const g = require('./lib/g2g');

function args(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--')) throw new Error(`unexpected ${argv[i]}`);
    out[argv[i].slice(2)] = argv[i + 1];
  }
  return out;
}

const snakeToCamel = (s) => s.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
function camelKeys(o) {
  if (Array.isArray(o)) return o.map(camelKeys);
  if (o && typeof o === 'object') return Object.fromEntries(Object.entries(o).map(([k, v]) => [snakeToCamel(k), camelKeys(v)]));
  return o;
}

/** §3.3: a status without ErrorInfo is the client library's, named on the client side. */
async function classifyLocal(err, brokerId, endpoint, ca) {
  if (err.code === grpc.status.DEADLINE_EXCEEDED) return { code: 'DEADLINE_EXCEEDED', domain: 'client', reason: 'CALL_DEADLINE_EXCEEDED', metadata: {} };
  if (err.code !== grpc.status.UNAVAILABLE) return { code: g.CODE_NAMES[err.code], domain: 'client', reason: 'UNKNOWN', metadata: {}, message: err.details };
  // PKI.md §Naming the failure: one diagnostic TLS handshake, no client certificate, no byte sent.
  const [host, port] = endpoint.split(':');
  const named = await new Promise((resolve) => {
    const s = tls.connect({ host, port: Number(port), ca, rejectUnauthorized: true, checkServerIdentity: () => undefined, minVersion: 'TLSv1.3', ALPNProtocols: ['h2'] });
    const done = (v) => { s.destroy(); resolve(v); };
    s.setTimeout(2000, () => done(null));
    s.on('error', () => done(null));
    s.on('secureConnect', () => done(g.certIdentity(s.getPeerCertificate().subjectaltname)));
  });
  if (named && !(named.kind === 'broker' && named.id === brokerId)) {
    return { code: 'UNAVAILABLE', domain: 'client', reason: 'BROKER_IDENTITY_MISMATCH', metadata: { broker: brokerId } };
  }
  return { code: 'UNAVAILABLE', domain: 'client', reason: 'BROKER_UNAVAILABLE', metadata: {} };
}

async function main() {
  const a = args(process.argv.slice(2));
  const root = g.loadRoot(a.image);
  const reg = g.loadRegistry(a.registry, a.pki);
  const me = a.as;
  const providers = [...reg.agencies.values()].filter((x) => x.services.includes(a.service));
  const to = a.to || (providers.length === 1 ? providers[0].id : null);
  if (!to) throw new Error(`--to is needed: ${a.service} has ${providers.length} providers`);
  const provider = reg.agencies.get(to);
  if (!provider) throw new Error(`unknown provider ${to}`);
  const types = g.methodTypes(root, a.service);

  // The request payload: the method's input type (§1), from protobuf JSON.
  const payloadObj = types.input.fromObject(camelKeys(JSON.parse(a.json)));
  const verr = types.input.verify(payloadObj);
  if (verr) throw new Error(`payload: ${verr}`);
  const payload = Buffer.from(types.input.encode(payloadObj).finish());

  // Header (§2.1): fresh message id, 120 s lifetime (§2.4 SHOULD).
  const dir = path.join(a.pki, 'agencies', g.slug(me));
  const s = g.signer(crypto.createPrivateKey(fs.readFileSync(path.join(dir, 'signing.key'))));
  const now = Date.now() / 1000;
  const messageId = crypto.randomUUID();
  const env = g.sealEnvelope(root, s, {
    kind: g.KIND_REQUEST, messageId, correlationId: a.correlation || messageId,
    sender: me, recipient: to, service: a.service, payloadType: types.input.fullName.slice(1),
    purpose: a.purpose, legalBasis: a['legal-basis'] || '',
    createdAt: g.timestamp(now), expiresAt: g.timestamp(now + 120),
  }, payload);

  // mTLS with the agency certificate; the broker's identity is checked in the
  // handshake, before anything is sent (§1, PKI.md): TLS name = its DNS form,
  // and the URI SAN too.
  const ca = fs.readFileSync(path.join(a.pki, 'ca.crt'));
  const creds = grpc.credentials.createSsl(ca, fs.readFileSync(path.join(dir, 'tls.key')), fs.readFileSync(path.join(dir, 'tls.crt')), {
    checkServerIdentity: (host, cert) => {
      const err = tls.checkServerIdentity(g.brokerDns(reg.broker.id), cert);
      if (err) return err;
      const id = g.certIdentity(cert.subjectaltname);
      if (!id || id.kind !== 'broker' || id.id !== reg.broker.id) return new Error('the server is not the registry broker');
      return undefined;
    },
  });
  const endpoint = a.broker || reg.broker.endpoint;
  const client = new grpc.Client(endpoint, creds, { 'grpc.ssl_target_name_override': g.brokerDns(reg.broker.id) });
  const E = root.lookupType('g2g.v1.Envelope');
  const deadline = new Date(Date.now() + 1000 * Number(a.timeout || 10));
  const result = await new Promise((resolve) => {
    client.makeUnaryRequest('/g2g.v1.Exchange/Call', (m) => Buffer.from(E.encode(E.create(m)).finish()), (b) => E.decode(b),
      env, new grpc.Metadata(), { deadline }, (err, resp) => resolve({ err, resp }));
  });
  client.close();

  if (result.err) {
    const err = result.err;
    const det = err.metadata && err.metadata.get('grpc-status-details-bin');
    if (det && det.length === 1) {
      const st = g.parseStatusDetails(root, det[0]);
      return { ok: false, code: g.CODE_NAMES[err.code], domain: st.domain, reason: st.reason, metadata: st.metadata, message: err.details };
    }
    return { ok: false, ...(await classifyLocal(err, reg.broker.id, endpoint, ca)) };
  }

  // §5: open the response with the keys of the request's recipient, check the
  // binding and the payload type; any failure is the client-side
  // INTERNAL / PROVIDER_RESPONSE_INVALID with metadata check = the reason.
  try {
    const opened = g.openEnvelope(root, result.resp, { sender: to, keys: provider.keys, kind: g.KIND_RESPONSE });
    const h = opened.header;
    if (h.recipient !== me || h.inReplyTo !== messageId || !Buffer.from(h.requestDigest).equals(g.sha256(env.header))
        || h.service !== a.service || h.correlationId !== (a.correlation || messageId)) {
      throw new g.G2GError(g.CODES.INTERNAL, 'RESPONSE_MISMATCH', 'response does not answer this request');
    }
    if (h.payloadType !== types.output.fullName.slice(1)) throw new g.G2GError(g.CODES.INTERNAL, 'PAYLOAD_TYPE_MISMATCH', 'payload type');
    if (g.unknownFields(types.output, opened.payload).length) throw new g.G2GError(g.CODES.INTERNAL, 'UNKNOWN_FIELDS', 'unknown payload fields');
    const msg = types.output.decode(opened.payload);
    return {
      ok: true,
      header: { sender: h.sender, message_id: h.messageId, in_reply_to: h.inReplyTo, keyid: opened.keyid },
      payload: types.output.toObject(msg, { enums: String, longs: String, bytes: String }),
    };
  } catch (e) {
    if (!(e instanceof g.G2GError)) throw e;
    return { ok: false, code: 'INTERNAL', domain: 'client', reason: 'PROVIDER_RESPONSE_INVALID', metadata: { check: e.reason } };
  }
}

main().then((r) => {
  console.log(JSON.stringify(r));
  process.exit(r.ok ? 0 : 2);
}, (e) => {
  console.error(`consumer: ${e.message}`);
  process.exit(1);
});
