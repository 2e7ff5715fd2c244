'use strict';
// A g2g provider in Node.js, from docs/PROTOCOL.md and docs/PKI.md alone:
// serves g2g.v1.Provider/Handle for ID/GOV/IMIGRASI's watchlist screen.
//   node provider.js --image IMAGE.binpb --registry agencies.yaml --pki DIR \
//        --as ID/GOV/IMIGRASI [--listen HOST:PORT] [--crl FILE]
// Prints "listening HOST:PORT" once serving. Logs one line per call (reason
// only, never request data). SIGTERM/SIGINT stop it.
//
// Its data: one synthetic entry, "Budi Santoso" born 1970-01-31. A query for
// the name "Refuse Me" is refused with the provider's own reason
// (FAILED_PRECONDITION / DEMO_REFUSAL, metadata hint=demo) to show §5.1.
// Three names make it misbehave on purpose, to check that the broker fails
// closed (PROVIDER_RESPONSE_INVALID): "Leak Me" (answers without applying the
// mask: check mask), "Speak For Broker" (a refusal in the g2g.broker domain:
// check domain), "Two Messages" (Status message differs from grpc-message:
// check message), and "Wrong Recipient", "Wrong Correlation", "Wrong Purpose",
// "Wrong Legal Basis", "Wrong Service", "Wrong In Reply To", "Wrong Digest",
// "Long Lifetime", "Wrong Kind", "Wrong Type", "Bad Signature" (a response
// header with that defect: which PROTOCOL.md §5 check catches it).
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const g = require('./lib/g2g');
const crl = require('./lib/crl');

const SKEW = 300;
const SCREEN = 'g2g.immigration.v1.Watchlist/Screen';
const ENTRIES = [{
  entryId: 'NODE-0000001', fullName: 'Budi Santoso', aliases: ['Budi S.'], dateOfBirth: '1970-01-31', sex: 'M',
  nationality: 'IDN', documents: [{ type: 1, number: 'B1234567', issuingCountry: 'IDN' }], nationalId: '3171013101700001',
  banType: 1, legalBasis: 'UU 6/2011 Pasal 91', issuingAuthority: 'KPK', validFrom: '2026-01-01', validUntil: '2030-12-31',
  caseReference: 'CASE/NODE/0001', decisions: [{ kind: 1, reference: 'KEP-NODE-1', decidedOn: '2026-01-01', validFrom: '2026-01-01', validUntil: '2030-12-31' }],
}];

function args(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) out[argv[i].slice(2)] = argv[i + 1];
  return out;
}

const a = args(process.argv.slice(2));
const root = g.loadRoot(a.image);
const me = a.as;
const dir = path.join(a.pki, 'agencies', g.slug(me));
const signer = g.signer(crypto.createPrivateKey(fs.readFileSync(path.join(dir, 'signing.key'))));
const caFile = path.join(a.pki, 'ca.crt');
const crlFile = a.crl || path.join(a.pki, 'crl.pem');
let registry = g.loadRegistry(a.registry, a.pki);
let crls = [crl.loadCrlFile(crlFile, caFile)];
// Re-read registry and CRL when they change (PKI.md §2, §4); keep the old on error.
const reload = setInterval(() => {
  try { registry = g.loadRegistry(a.registry, a.pki); } catch (e) { console.error(`registry_reload_rejected ${e.message}`); }
  try { crls = [crl.loadCrlFile(crlFile, caFile)]; } catch (e) { console.error(`crl_reload_rejected ${e.message}`); }
}, 2000);
reload.unref();

const PR = root.lookupType('g2g.v1.ProviderRequest');
const E = root.lookupType('g2g.v1.Envelope');
const AB = root.lookupType('g2g.v1.AttestationBody');
const C = g.CODES;
const fail = (code, reason, message, metadata = {}) => new g.G2GError(code, reason, message, metadata, 'g2g.provider');

/** The checks of PROTOCOL.md §4, in order; returns the response envelope. */
function handle(call, bytes) {
  // 1. The caller's certificate: status (CRL, PKI.md §4), then that it names the broker.
  const auth = call.getAuthContext();
  const peer = auth && auth.sslPeerCertificate;
  if (!peer || !peer.raw) throw fail(C.UNAUTHENTICATED, 'NO_PEER_IDENTITY', 'no client certificate');
  const bad = crl.certStatus(peer.raw, crls);
  if (bad) throw fail(C.UNAUTHENTICATED, bad.reason, 'certificate status', bad.metadata);
  const who = g.certIdentity(peer.subjectaltname);
  if (!who) throw fail(C.UNAUTHENTICATED, 'NO_PEER_IDENTITY', 'the certificate names no one');
  if (who.kind !== 'broker' || who.id !== registry.broker.id) throw fail(C.PERMISSION_DENIED, 'NOT_BROKER', 'the caller is not the broker');

  let req;
  try { req = PR.decode(bytes); } catch (e) { throw fail(C.INVALID_ARGUMENT, 'ENVELOPE_MALFORMED', 'request does not parse'); }
  if (!req.request || !req.attestation) throw fail(C.PERMISSION_DENIED, 'ATTESTATION_INVALID', 'request or attestation missing');

  // 2. The attestation: the broker's signature, then no unknown fields.
  const body = Buffer.from(req.attestation.body || []);
  try { g.verifySignatures(registry.broker.keys, g.ATTESTATION_TYPE, body, req.attestation.signatures); } catch (e) {
    throw fail(C.PERMISSION_DENIED, 'ATTESTATION_INVALID', 'attestation signature');
  }
  const unk = g.unknownFields(AB, body);
  if (unk.length) {
    throw fail(C.PERMISSION_DENIED, 'ATTESTATION_UNKNOWN_FIELDS', 'unknown attestation fields',
      { numbers: [...new Set(unk.map((u) => u.number))].sort((x, y) => x - y).slice(0, 16).join(',') });
  }
  const att = AB.decode(body);

  // 3. The consumer's envelope, opened with the keys of the attested consumer.
  const consumer = registry.agencies.get(att.consumer);
  if (!consumer) throw fail(C.UNAUTHENTICATED, 'UNKNOWN_SENDER', 'unknown consumer');
  let opened;
  try {
    opened = g.openEnvelope(root, req.request, { sender: att.consumer, keys: consumer.keys, kind: g.KIND_REQUEST });
  } catch (e) {
    if (e instanceof g.G2GError) throw fail(e.code, e.reason, e.message, e.metadata);
    throw e;
  }
  const h = opened.header;

  // 4. Binding of the attestation to that request, and to us; expiry; mask.
  const now = Date.now() / 1000;
  if (!Buffer.from(att.requestDigest).equals(g.sha256(opened.headerBytes)) || att.messageId !== h.messageId
      || att.consumer !== h.sender || att.provider !== h.recipient || att.service !== h.service
      || h.recipient !== me || att.brokerId !== registry.broker.id) {
    throw fail(C.PERMISSION_DENIED, 'ATTESTATION_INVALID', 'attestation does not match the request');
  }
  // Expired: expires_at + the clock skew S (300 s) < now (PROTOCOL.md §4).
  if (!att.expiresAt || g.tsSeconds(att.expiresAt) + SKEW < now) throw fail(C.PERMISSION_DENIED, 'ATTESTATION_INVALID', 'attestation expired');
  if (!att.fieldMask.length) throw fail(C.PERMISSION_DENIED, 'ATTESTATION_INVALID', 'empty field mask');

  // 5. The service and the payload schema.
  if (h.service !== SCREEN) throw fail(C.NOT_FOUND, 'UNKNOWN_SERVICE', 'service not served here');
  const types = g.methodTypes(root, SCREEN);
  if (h.payloadType !== types.input.fullName.slice(1)) throw fail(C.INVALID_ARGUMENT, 'PAYLOAD_TYPE_MISMATCH', 'payload type');
  let q;
  try { q = types.input.decode(opened.payload); } catch (e) { throw fail(C.INVALID_ARGUMENT, 'PAYLOAD_UNDECODABLE', 'payload'); }
  const punk = g.unknownFields(types.input, opened.payload);
  if (punk.length) throw fail(C.INVALID_ARGUMENT, 'UNKNOWN_FIELDS', 'unknown payload fields', { field: punk[0].path, numbers: punk.map((u) => u.number).slice(0, 16).join(',') });
  if (!q.byName && !q.byDocument) throw fail(C.INVALID_ARGUMENT, 'CONSTRAINT_VIOLATION', 'query: is missing: set exactly one of by_name, by_document', { field: 'query', rule: 'required' });

  // The adapter itself.
  if (q.byName && q.byName.fullName.toLowerCase() === 'refuse me') {
    throw fail(C.FAILED_PRECONDITION, 'DEMO_REFUSAL', 'the Node provider refuses this query', { hint: 'demo' });
  }
  const name = q.byName ? q.byName.fullName.toLowerCase() : '';
  if (name === 'speak for broker') throw Object.assign(fail(C.PERMISSION_DENIED, 'POLICY_DENIED', 'misbehaving on purpose'), { domain: 'g2g.broker' });
  if (name === 'two messages') throw Object.assign(fail(C.FAILED_PRECONDITION, 'DEMO_REFUSAL', 'misbehaving on purpose'), { statusMessage: 'something else' });
  const leak = name === 'leak me';
  const hits = ENTRIES.filter((e) => leak || (q.byName && e.fullName.toLowerCase() === q.byName.fullName.toLowerCase()
      && (!q.byName.dateOfBirth || q.byName.dateOfBirth === e.dateOfBirth))
    || (q.byDocument && e.documents.some((d) => d.number === q.byDocument.number)))
    .map((e) => ({ entryId: e.entryId, score: 1, matchedFields: q.byName ? ['full_name'] : ['document'], entry: e, status: 1, inForce: true, decisiveDate: e.validUntil }));
  const today = new Date().toISOString().slice(0, 10);
  const full = { hits, threshold: 0.85, listedEntries: ENTRIES.length, totalMatches: hits.length, truncated: false, checkedOn: today };
  // Clear every field outside the attested mask, then sign.
  const masked = leak ? full : g.applyMask(types.output, JSON.parse(JSON.stringify(full)), att.fieldMask);
  const payload = Buffer.from(types.output.encode(types.output.fromObject(masked)).finish());
  const fields = {
    kind: g.KIND_RESPONSE, messageId: crypto.randomUUID(), correlationId: h.correlationId,
    sender: me, recipient: h.sender, service: h.service, payloadType: types.output.fullName.slice(1),
    purpose: h.purpose, legalBasis: h.legalBasis, createdAt: g.timestamp(now), expiresAt: g.timestamp(now + 120),
    inReplyTo: h.messageId, requestDigest: g.sha256(opened.headerBytes),
  };
  // Response-side misbehaviour, to pin down what the broker's §5 checks cover.
  const wrong = {
    'wrong recipient': { recipient: 'ID/GOV/BIN' },
    'wrong correlation': { correlationId: 'another-case' },
    'wrong purpose': { purpose: 'other_purpose' },
    'wrong legal basis': { legalBasis: 'something else' },
    'wrong service': { service: 'g2g.interpol.v1.Notices/Get' },
    'wrong in reply to': { inReplyTo: 'not-the-request-id' },
    'wrong digest': { requestDigest: crypto.randomBytes(32) },
    'long lifetime': { expiresAt: g.timestamp(now + 3600) },
    'wrong kind': { kind: g.KIND_REQUEST },
    'wrong type': { payloadType: 'g2g.immigration.v1.ScreenRequest' },
  }[name];
  if (wrong) Object.assign(fields, wrong);
  const env = g.sealEnvelope(root, signer, fields, payload);
  if (name === 'bad signature') env.signatures[0].sig[5] ^= 1;
  return env;
}

/** PROTOCOL.md §5.1: code, grpc-message, and one google.rpc.Status with one ErrorInfo. */
function refusal(err) {
  const message = err.message.slice(0, 200);
  const md = new grpc.Metadata();
  md.set('grpc-status-details-bin', g.statusDetails(root, err.code, err.statusMessage || message, err.domain, err.reason, err.metadata));
  return { code: err.code, details: message, metadata: md };
}

const server = new grpc.Server();
server.register('/g2g.v1.Provider/Handle', (call, callback) => {
  try {
    const env = handle(call, call.request);
    console.log('handled OK');
    callback(null, env);
  } catch (e) {
    const err = e instanceof g.G2GError ? e : fail(C.INTERNAL, 'INTERNAL_ERROR', 'internal error');
    if (!(e instanceof g.G2GError)) console.error(`internal error: ${e.constructor.name}`);
    console.log(`refused ${g.CODE_NAMES[err.code]} ${err.reason}`);
    callback(refusal(err));
  }
}, (m) => Buffer.from(E.encode(E.create(m)).finish()), (b) => b, 'unary');

const creds = grpc.ServerCredentials.createSsl(fs.readFileSync(caFile),
  [{ private_key: fs.readFileSync(path.join(dir, 'tls.key')), cert_chain: fs.readFileSync(path.join(dir, 'tls.crt')) }], true);
const listen = a.listen || registry.agencies.get(me).endpoint;
server.bindAsync(listen, creds, (err, port) => {
  if (err) { console.error(`cannot listen on ${listen}: ${err.message}`); process.exit(1); }
  console.log(`listening ${listen.replace(/:\d+$/, '')}:${port}`);
});
const stop = () => server.tryShutdown(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
