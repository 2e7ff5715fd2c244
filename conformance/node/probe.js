'use strict';
// Drive a provider directly (no broker) with the hostile and honest inputs of
// PROTOCOL.md §4 and §5.1, playing the broker with the development PKI's
// broker keys. Run against the Python adapter and the Node provider, the
// answers must be the same documented (code, domain, reason).
//   node probe.js --image IMAGE.binpb --registry agencies.yaml --pki DIR \
//        --provider AGENCY --service pkg.Svc/Method --json '{...}' --mask a,b \
//        --consumer AGENCY [--endpoint HOST:PORT] [--other-service pkg.Svc/Method]
// Prints one line per case; exit 1 if any case differs from the documented answer.
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const tls = require('tls');
const grpc = require('@grpc/grpc-js');
const g = require('./lib/g2g');

const a = {};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) a[argv[i].slice(2)] = argv[i + 1];
const root = g.loadRoot(a.image);
const reg = g.loadRegistry(a.registry, a.pki);
const provider = reg.agencies.get(a.provider);
const endpoint = a.endpoint || provider.endpoint;
const ca = fs.readFileSync(path.join(a.pki, 'ca.crt'));
const E = root.lookupType('g2g.v1.Envelope');
const PR = root.lookupType('g2g.v1.ProviderRequest');
const AB = root.lookupType('g2g.v1.AttestationBody');
const key = (p) => crypto.createPrivateKey(fs.readFileSync(p));
const brokerSigner = g.signer(key(path.join(a.pki, 'broker', 'signing.key')));
const consumerSigner = g.signer(key(path.join(a.pki, 'agencies', g.slug(a.consumer), 'signing.key')));
const mask = a.mask.split(',');

function creds(dir) {
  return grpc.credentials.createSsl(ca, fs.readFileSync(path.join(dir, 'tls.key')), fs.readFileSync(path.join(dir, 'tls.crt')), {
    checkServerIdentity: (host, cert) => tls.checkServerIdentity(g.agencyDns(a.provider), cert),
  });
}

function request(service, json, { signer = consumerSigner, now = Date.now() / 1000 } = {}) {
  const types = g.methodTypes(root, service);
  const payload = Buffer.from(types.input.encode(types.input.fromObject(json)).finish());
  const id = crypto.randomUUID();
  return g.sealEnvelope(root, signer, {
    kind: g.KIND_REQUEST, messageId: id, correlationId: id, sender: a.consumer, recipient: a.provider,
    service, payloadType: types.input.fullName.slice(1), purpose: 'criminal_investigation', legalBasis: '',
    createdAt: g.timestamp(now), expiresAt: g.timestamp(now + 120),
  }, payload);
}

function attestation(env, { fieldMask = mask, life = 60, extra = null, signer = brokerSigner, digest = null, provider: prov = null } = {}) {
  const h = root.lookupType('g2g.v1.Header').decode(env.header);
  const now = Date.now() / 1000;
  let body = Buffer.from(AB.encode(AB.fromObject({
    decisionId: crypto.randomBytes(8).toString('hex'), requestDigest: digest || g.sha256(env.header), messageId: h.messageId,
    consumer: h.sender, provider: prov || h.recipient, service: h.service, purpose: h.purpose, ruleId: 'conformance-probe',
    policyVersion: '0', fieldMask, issuedAt: g.timestamp(now), expiresAt: g.timestamp(now + life), brokerId: reg.broker.id,
  })).finish());
  if (extra) body = Buffer.concat([body, extra]);
  return { body, signatures: [g.sign(signer, g.ATTESTATION_TYPE, body)] };
}

function call(dir, pr) {
  const client = new grpc.Client(endpoint, creds(dir), { 'grpc.ssl_target_name_override': g.agencyDns(a.provider) });
  return new Promise((resolve) => {
    client.makeUnaryRequest('/g2g.v1.Provider/Handle', (m) => Buffer.from(PR.encode(PR.create(m)).finish()), (b) => E.decode(b),
      pr, new grpc.Metadata(), { deadline: new Date(Date.now() + 5000) }, (err, resp) => {
        client.close();
        if (!err) return resolve({ code: 'OK', resp });
        const det = err.metadata && err.metadata.get('grpc-status-details-bin');
        if (!det || det.length !== 1) return resolve({ code: g.CODE_NAMES[err.code], domain: null, reason: null, metadata: {} });
        const st = g.parseStatusDetails(root, det[0]);
        // §5.1: Status code = gRPC code; Status message = grpc-message.
        const wellFormed = st.code === err.code && st.message === err.details && st.domain === 'g2g.provider';
        return resolve({ code: g.CODE_NAMES[err.code], domain: st.domain, reason: st.reason, metadata: st.metadata, wellFormed });
      });
  });
}

const brokerDir = path.join(a.pki, 'broker');
const agencyDir = path.join(a.pki, 'agencies', g.slug(a.consumer));
const json = JSON.parse(a.json);

const cases = [
  ['an agency calls the provider directly', async () => call(agencyDir, { request: request(a.service, json), attestation: attestation(request(a.service, json)) }),
    'PERMISSION_DENIED/NOT_BROKER'],
  ['attestation signed by a consumer key', async () => { const r = request(a.service, json); return call(brokerDir, { request: r, attestation: attestation(r, { signer: consumerSigner }) }); },
    'PERMISSION_DENIED/ATTESTATION_INVALID'],
  ['attestation body with unknown field 99', async () => { const r = request(a.service, json); return call(brokerDir, { request: r, attestation: attestation(r, { extra: Buffer.from([0x98, 0x06, 0x01]) }) }); },
    'PERMISSION_DENIED/ATTESTATION_UNKNOWN_FIELDS', { numbers: '99' }],
  ['attestation for another request (request_digest)', async () => { const r = request(a.service, json); return call(brokerDir, { request: r, attestation: attestation(r, { digest: crypto.randomBytes(32) }) }); },
    'PERMISSION_DENIED/ATTESTATION_INVALID'],
  ['expired attestation', async () => { const r = request(a.service, json); return call(brokerDir, { request: r, attestation: attestation(r, { life: -400 }) }); },
    'PERMISSION_DENIED/ATTESTATION_INVALID'],
  ['request signed by a key the consumer does not have', async () => {
    const r = request(a.service, json, { signer: g.signer(crypto.generateKeyPairSync('ed25519').privateKey) });
    return call(brokerDir, { request: r, attestation: attestation(r) });
  }, 'UNAUTHENTICATED/UNKNOWN_KEY'],
  ['request with a tampered header', async () => {
    const r = request(a.service, json);
    const att = attestation(r);
    r.signatures[0].sig = Buffer.from(r.signatures[0].sig);
    r.signatures[0].sig[0] ^= 1;
    return call(brokerDir, { request: r, attestation: att });
  }, 'UNAUTHENTICATED/SIGNATURE_INVALID'],
  ['request created 20 minutes ago', async () => {
    const r = request(a.service, json, { now: Date.now() / 1000 - 1200 });
    return call(brokerDir, { request: r, attestation: attestation(r) });
  }, 'FAILED_PRECONDITION/EXPIRED'],
];
// The edges the documents once left open (PROTOCOL.md §4 P1–P11 now says them).
const raw = (bytes, dir = brokerDir) => new Promise((resolve) => {
  const client = new grpc.Client(endpoint, creds(dir), { 'grpc.ssl_target_name_override': g.agencyDns(a.provider) });
  client.makeUnaryRequest('/g2g.v1.Provider/Handle', (b) => b, (b) => b, bytes, new grpc.Metadata(), { deadline: new Date(Date.now() + 5000) }, (err) => {
    client.close();
    if (!err) return resolve({ code: 'OK' });
    const det = err.metadata.get('grpc-status-details-bin');
    const st = det.length === 1 ? g.parseStatusDetails(root, det[0]) : { metadata: {} };
    const wellFormed = st.code === err.code && st.message === err.details && st.domain === 'g2g.provider';
    resolve({ code: g.CODE_NAMES[err.code], domain: st.domain, reason: st.reason, metadata: st.metadata, wellFormed });
  });
});
const withAtt = (mut) => async () => { const r = request(a.service, json); const at = attestation(r); const b = AB.decode(at.body); mut(b, r); const body = Buffer.from(AB.encode(b).finish()); return call(brokerDir, { request: r, attestation: { body, signatures: [g.sign(brokerSigner, g.ATTESTATION_TYPE, body)] } }); };
cases.push(
  ['attestation expired 100 s ago (within the clock skew)', async () => { const r = request(a.service, json); return call(brokerDir, { request: r, attestation: attestation(r, { life: -100 }) }); }, 'OK'],
  ['attestation with an empty field mask', withAtt((b) => { b.fieldMask = []; }), 'PERMISSION_DENIED/ATTESTATION_INVALID'],
  ['attestation naming another broker_id', withAtt((b) => { b.brokerId = 'XX/OTHER'; }), 'PERMISSION_DENIED/ATTESTATION_INVALID'],
  ['attestation consumer differs from the header sender', withAtt((b) => { b.consumer = 'ID/GOV/BIN'; }), 'UNAUTHENTICATED/UNKNOWN_KEY'],
  ['request and attestation addressed to another provider', async () => {
    const r0 = request(a.service, json);
    const H = root.lookupType('g2g.v1.Header');
    const h = H.toObject(H.decode(r0.header));
    const other = [...reg.agencies.values()].find((x) => x.endpoint && x.id !== a.provider).id;
    const r = g.sealEnvelope(root, consumerSigner, { ...h, recipient: other, payloadSha256: undefined }, r0.payload);
    return call(brokerDir, { request: r, attestation: attestation(r) });
  }, 'PERMISSION_DENIED/ATTESTATION_INVALID'],
  ['attestation naming this provider for a request addressed to another', async () => {
    const r0 = request(a.service, json);
    const H = root.lookupType('g2g.v1.Header');
    const h = H.toObject(H.decode(r0.header));
    const other = [...reg.agencies.values()].find((x) => x.endpoint && x.id !== a.provider).id;
    const r = g.sealEnvelope(root, consumerSigner, { ...h, recipient: other, payloadSha256: undefined }, r0.payload);
    return call(brokerDir, { request: r, attestation: attestation(r, { provider: a.provider }) });
  }, 'PERMISSION_DENIED/ATTESTATION_INVALID'],
  ['attestation purpose differs from the header (informational field)', withAtt((b) => { b.purpose = 'other_purpose'; }), 'OK'],
  ['attestation issued_at missing (informational field)', withAtt((b) => { b.issuedAt = null; }), 'OK'],
  ['attestation expires_at missing', withAtt((b) => { b.expiresAt = null; }), 'PERMISSION_DENIED/ATTESTATION_INVALID'],
  ['ProviderRequest without attestation', async () => call(brokerDir, { request: request(a.service, json) }), 'PERMISSION_DENIED/ATTESTATION_INVALID'],
  // P2a: parsed after the caller checks; a refusal with ErrorInfo, never UNKNOWN.
  ['ProviderRequest bytes that do not parse', async () => raw(Buffer.from([0xff, 0xff, 0xff])), 'INVALID_ARGUMENT/ENVELOPE_MALFORMED', {}],
  ['bytes that do not parse, from an agency (caller checked first)', async () => raw(Buffer.from([0xff, 0xff, 0xff]), agencyDir), 'PERMISSION_DENIED/NOT_BROKER'],
  ['ProviderRequest with an unknown field 9', async () => { const r = request(a.service, json); const b = Buffer.concat([Buffer.from(PR.encode(PR.create({ request: r, attestation: attestation(r) })).finish()), Buffer.from([0x48, 0x01])]); return raw(b); }, 'OK'],
  ['request payload with an unknown field 99', async () => {
    const r = request(a.service, json);
    const h = root.lookupType('g2g.v1.Header').decode(r.header);
    const payload = Buffer.concat([r.payload, Buffer.from([0x98, 0x06, 0x01])]);
    const r2 = g.sealEnvelope(root, consumerSigner, { ...root.lookupType('g2g.v1.Header').toObject(h), payloadSha256: undefined }, payload);
    return call(brokerDir, { request: r2, attestation: attestation(r2) });
  }, 'INVALID_ARGUMENT/UNKNOWN_FIELDS'],
);
if (a['other-service']) {
  cases.push(['a service this provider does not serve', async () => {
    const t = g.methodTypes(root, a['other-service']);
    const r = request(a['other-service'], JSON.parse(a['other-json'] || '{}'));
    void t;
    return call(brokerDir, { request: r, attestation: attestation(r) });
  }, 'NOT_FOUND/UNKNOWN_SERVICE']);
}
cases.push(['an honest request: signed answer inside the mask', async () => {
  const r = request(a.service, json);
  const res = await call(brokerDir, { request: r, attestation: attestation(r) });
  if (res.code !== 'OK') return res;
  const types = g.methodTypes(root, a.service);
  try {
    const o = g.openEnvelope(root, res.resp, { sender: a.provider, keys: provider.keys, kind: g.KIND_RESPONSE });
    const h = o.header;
    if (h.inReplyTo !== root.lookupType('g2g.v1.Header').decode(r.header).messageId) return { code: 'BINDING' };
    if (!Buffer.from(h.requestDigest).equals(g.sha256(r.header))) return { code: 'BINDING' };
    if (h.payloadType !== types.output.fullName.slice(1)) return { code: 'PAYLOAD_TYPE' };
    const outside = g.outsideMask(types.output, o.payload, mask);
    if (outside.length) return { code: 'MASK', reason: outside.join(',') };
  } catch (e) { return { code: 'OPEN', reason: e.reason || e.message }; }
  return { code: 'OK' };
}, 'OK']);

(async () => {
  let failed = 0;
  for (const [name, run, want, wantMeta] of cases) {
    const got = await run();
    const gotS = got.code === 'OK' ? 'OK' : `${got.code}/${got.reason}`;
    let good = gotS === want && (got.code === 'OK' || got.wellFormed);
    // A given metadata map is the whole of it (PROTOCOL.md names every key).
    if (wantMeta && Object.keys(got.metadata || {}).length !== Object.keys(wantMeta).length) good = false;
    for (const [k, v] of Object.entries(wantMeta || {})) if (got.metadata[k] !== v) good = false;
    if (!good) failed += 1;
    console.log(`${good ? 'ok  ' : 'FAIL'} ${a.provider} @${endpoint}: ${name}: ${gotS}${got.metadata && Object.keys(got.metadata).length ? ' ' + JSON.stringify(got.metadata) : ''}${good ? '' : ` (documented: ${want}${got.code !== 'OK' && !got.wellFormed ? ', in domain g2g.provider with Status code/message equal to the gRPC ones' : ''})`}`);
  }
  process.exit(failed ? 1 : 0);
})();
