'use strict';
// Recompute every value of tests/vectors/protocol_v1.json from the rules of
// docs/PROTOCOL.md §2 and §6. Exit 1 on any difference.
//   node vectors.js VECTORS.json IMAGE.binpb
const fs = require('fs');
const crypto = require('crypto');
const g = require('./lib/g2g');

const [vecPath, imagePath] = process.argv.slice(2);
const v = JSON.parse(fs.readFileSync(vecPath, 'utf8'));
const root = g.loadRoot(imagePath);
let failures = 0;
let checks = 0;
function eq(name, got, want) {
  checks += 1;
  if (got !== want) { failures += 1; console.log(`FAIL ${name}\n  got  ${got}\n  want ${want}`); }
}
function ok(name, cond) { eq(name, Boolean(cond), true); }
const hex = (b) => Buffer.from(b).toString('hex');
const unhex = (s) => Buffer.from(s, 'hex');

// Keys: seed -> public key -> key id (§2.3, §6).
const signers = {};
const keys = {};
for (const [party, k] of Object.entries(v.keys)) {
  const priv = g.privateKeyFromSeed(unhex(k.seed_hex));
  const raw = g.rawPublicKey(priv);
  eq(`${party}.public_hex`, hex(raw), k.public_hex);
  eq(`${party}.keyid`, g.keyid(raw), k.keyid);
  signers[party] = g.signer(priv);
  keys[party] = new Map([[g.keyid(raw), { keyid: g.keyid(raw), key: g.publicKeyFromRaw(raw), notBefore: null, notAfter: null, revokedAt: null }]]);
}
eq('header_type', v.header_type, g.HEADER_TYPE);
eq('attestation_type', v.attestation_type, g.ATTESTATION_TYPE);

const H = root.lookupType('g2g.v1.Header');
const A = root.lookupType('g2g.v1.AttestationBody');
const E = root.lookupType('g2g.v1.Envelope');

function checkSigned(name, signed, party, type, body) {
  eq(`${name}.pae_hex`, hex(g.pae(type, body)), signed.pae_hex);
  eq(`${name}.keyid`, signers[party].keyid, signed.keyid);
  // Ed25519 (RFC 8032, pure) is deterministic: signing again gives the same bytes.
  eq(`${name}.sig_hex`, hex(g.sign(signers[party], type, body).sig), signed.sig_hex);
  ok(`${name} signature verifies from the public key alone`,
    crypto.verify(null, g.pae(type, body), keys[party].get(signed.keyid).key, unhex(signed.sig_hex)));
  // (3) flipping any bit of the signed bytes breaks the signature.
  let allRejected = true;
  for (let i = 0; i < body.length * 8; i += 1) {
    const t = Buffer.from(body);
    t[i >> 3] ^= 1 << (i & 7);
    if (crypto.verify(null, g.pae(type, t), keys[party].get(signed.keyid).key, unhex(signed.sig_hex))) allRejected = false;
  }
  ok(`${name}: every single-bit flip of the signed bytes is rejected`, allRejected);
}

// Header bytes re-encoded from their parsed fields (field order, proto3 defaults
// omitted) equal the vector's: an implementation can produce them itself.
function reencodes(name, type, bytes) {
  ok(`${name} has no unknown fields`, g.unknownFields(type, bytes).length === 0);
  eq(`${name} re-encodes identically`, hex(type.encode(type.decode(bytes)).finish()), hex(bytes));
}

function checkEnvelope(name, vec, party, payloadType, kind) {
  const header = unhex(vec.header_hex);
  const payload = unhex(vec.payload_hex);
  reencodes(`${name}.header`, H, header);
  eq(`${name}.header_sha256_hex`, hex(g.sha256(header)), vec.header_sha256_hex);
  const h = H.decode(header);
  eq(`${name}.payload_sha256`, hex(h.payloadSha256), hex(g.sha256(payload)));
  eq(`${name}.payload_type`, h.payloadType, payloadType);
  checkSigned(name, vec, party, g.HEADER_TYPE, header);
  const env = { header, payload, signatures: [{ keyid: vec.keyid, sig: unhex(vec.sig_hex) }] };
  eq(`${name}.envelope_hex`, hex(E.encode(E.create(env)).finish()), vec.envelope_hex);
  const decoded = E.decode(unhex(vec.envelope_hex));
  const opened = g.openEnvelope(root, decoded, {
    sender: h.sender, keys: keys[party], kind, now: g.tsSeconds(h.createdAt) + 1,
  });
  ok(`${name} opens (verify, then parse)`, opened.header.messageId === h.messageId);
  // A header bit flip makes the envelope fail to open.
  const bad = { ...decoded, header: Buffer.from(decoded.header) };
  bad.header[10] ^= 0x01;
  let refused = null;
  try { g.openEnvelope(root, bad, { sender: h.sender, keys: keys[party], kind, now: g.tsSeconds(h.createdAt) + 1 }); } catch (e) { refused = e.reason; }
  eq(`${name} with a flipped header bit is refused`, refused, 'SIGNATURE_INVALID');
  return h;
}

const types = g.methodTypes(root, 'g2g.immigration.v1.Watchlist/Screen');
const req = checkEnvelope('request', v.request, 'consumer', types.input.fullName.slice(1), g.KIND_REQUEST);
const res = checkEnvelope('response', v.response, 'provider', types.output.fullName.slice(1), g.KIND_RESPONSE);

// §6 prose: the request's documented fields.
eq('request.sender', req.sender, 'ID/GOV/POLRI');
eq('request.recipient', req.recipient, 'ID/GOV/IMIGRASI');
eq('request.service', req.service, 'g2g.immigration.v1.Watchlist/Screen');
eq('request.purpose', req.purpose, 'criminal_investigation');
eq('request.legal_basis', req.legalBasis, 'UU 6/2011 Pasal 91');
eq('request.message_id', req.messageId, '00000000-0000-4000-8000-000000000001');
eq('request.created_at', new Date(g.tsSeconds(req.createdAt) * 1000).toISOString(), '2026-01-02T03:04:05.000Z');
eq('request lifetime', g.tsSeconds(req.expiresAt) - g.tsSeconds(req.createdAt), 120);
const payload = types.input.toObject(types.input.decode(unhex(v.request.payload_hex)));
eq('request payload', JSON.stringify(payload), JSON.stringify({ byName: { fullName: 'Budi Santoso', dateOfBirth: '1970-01-31', nationality: 'IDN' } }));
eq('request PAE prefix', g.pae(g.HEADER_TYPE, unhex(v.request.header_hex)).subarray(0, 50).toString('latin1'),
  'DSSEv1 35 application/vnd.g2g.header.v1+proto 276 ');

// §5: the response's binding to the request.
eq('response.kind', res.kind, g.KIND_RESPONSE);
eq('response.sender', res.sender, req.recipient);
eq('response.recipient', res.recipient, req.sender);
eq('response.service', res.service, req.service);
eq('response.purpose', res.purpose, req.purpose);
eq('response.legal_basis', res.legalBasis, req.legalBasis);
eq('response.correlation_id', res.correlationId, req.correlationId);
eq('response.in_reply_to', res.inReplyTo, req.messageId);
eq('response.request_digest', hex(res.requestDigest), v.request.header_sha256_hex);

// §4: the attestation.
const body = unhex(v.attestation.body_hex);
reencodes('attestation.body', A, body);
checkSigned('attestation', v.attestation, 'broker', g.ATTESTATION_TYPE, body);
const att = A.decode(body);
eq('attestation.request_digest', hex(att.requestDigest), v.request.header_sha256_hex);
eq('attestation.message_id', att.messageId, req.messageId);
eq('attestation.consumer', att.consumer, req.sender);
eq('attestation.provider', att.provider, req.recipient);
eq('attestation.service', att.service, req.service);
eq('attestation.purpose', att.purpose, req.purpose);
eq('attestation.field_mask', att.fieldMask.join(' '), 'hits.entry_id hits.score');
ok('attestation.expires_at after issued_at', g.tsSeconds(att.expiresAt) > g.tsSeconds(att.issuedAt));
// Every vector obeys its own mask.
const outside = g.outsideMask(types.output, unhex(v.response.payload_hex), att.fieldMask);
eq('response payload fields outside the attested mask', outside.join(','), '');
// Applying the mask to the response payload changes nothing.
const rp = types.output.decode(unhex(v.response.payload_hex));
const masked = types.output.encode(types.output.fromObject(g.applyMask(types.output, types.output.toObject(rp), att.fieldMask))).finish();
eq('response payload is fixed under its mask', hex(masked), v.response.payload_hex);

console.log(`${failures === 0 ? 'OK' : 'FAILED'}: ${checks - failures}/${checks} vector checks passed`);
process.exit(failures === 0 ? 0 : 1);
