'use strict';
// g2g protocol v1 in Node.js, written from docs/PROTOCOL.md, docs/PKI.md and
// proto/ only (the conformance check of issue 11). One module, no I/O beyond
// reading key files and the registry.

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const protobuf = require('protobufjs');
require('protobufjs/ext/descriptor');
const YAML = require('yaml');

const HEADER_TYPE = 'application/vnd.g2g.header.v1+proto';
const ATTESTATION_TYPE = 'application/vnd.g2g.attestation.v1+proto';
const KIND_REQUEST = 1;
const KIND_RESPONSE = 2;
const MAX_SIGNATURES = 4; // PROTOCOL.md §2: a verifier considers at most the first 4

// ---------------------------------------------------------------- schemas

/** The g2g schemas: PROTOCOL.md §7 — the FileDescriptorSet `make gen` writes. */
function loadRoot(imagePath) {
  const fds = protobuf.descriptor.FileDescriptorSet.decode(fs.readFileSync(imagePath));
  const root = protobuf.Root.fromDescriptor(fds);
  // google/protobuf/any.proto and google/rpc/{status,error_details}.proto
  // (googleapis), the fields as published there.
  const gp = root.lookup('google.protobuf');
  if (!gp.lookup('Any')) {
    gp.addJSON({ Any: { fields: { type_url: { type: 'string', id: 1 }, value: { type: 'bytes', id: 2 } } } });
  }
  root.lookup('google').addJSON({
    rpc: {
      nested: {
        Status: {
          fields: {
            code: { type: 'int32', id: 1 },
            message: { type: 'string', id: 2 },
            details: { rule: 'repeated', type: 'google.protobuf.Any', id: 3 },
          },
        },
        ErrorInfo: {
          fields: {
            reason: { type: 'string', id: 1 },
            domain: { type: 'string', id: 2 },
            metadata: { keyType: 'string', type: 'string', id: 3 },
          },
        },
      },
    },
  });
  root.resolveAll();
  return root;
}

/** Input and output types of a full method name `pkg.Service/Method`. */
function methodTypes(root, service) {
  const [svc, m] = service.split('/');
  const s = root.lookupService(svc);
  const method = s.methods[m];
  if (!method) throw new Error(`no method ${service}`);
  method.resolve();
  return {
    input: method.resolvedRequestType,
    output: method.resolvedResponseType,
  };
}

// Unknown field numbers anywhere in a message (PROTOCOL.md §2.1: an error).
// protobufjs skips unknown fields silently, so walk the wire format ourselves.
function unknownFields(type, bytes, prefix = '') {
  const r = protobuf.Reader.create(bytes);
  const found = [];
  while (r.pos < r.len) {
    const tag = r.uint32();
    const id = tag >>> 3;
    const wt = tag & 7;
    const field = type.fieldsById[id];
    if (!field) {
      found.push({ path: prefix || '.', number: id });
      r.skipType(wt);
      continue;
    }
    field.resolve();
    if (wt === 2 && field.resolvedType instanceof protobuf.Type) {
      const sub = r.bytes();
      if (field.map) continue; // map<string,string> entries only in g2g protos
      found.push(...unknownFields(field.resolvedType, sub, prefix ? `${prefix}.${pname(field)}` : pname(field)));
    } else {
      r.skipType(wt);
    }
  }
  return found;
}

// ---------------------------------------------------------------- crypto

/** PROTOCOL.md §2.2: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body. */
function pae(type, body) {
  const t = Buffer.from(type, 'utf8');
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${t.length} `, 'ascii'), t,
    Buffer.from(` ${body.length} `, 'ascii'), Buffer.from(body),
  ]);
}

const sha256 = (b) => crypto.createHash('sha256').update(b).digest();

/** PROTOCOL.md §2.3: lowercase hex SHA-256 of the raw 32-byte public key. */
const keyid = (raw) => sha256(raw).toString('hex');

function rawPublicKey(keyObject) {
  const pub = keyObject.type === 'private' ? crypto.createPublicKey(keyObject) : keyObject;
  return Buffer.from(pub.export({ format: 'jwk' }).x, 'base64url');
}

function privateKeyFromSeed(seed) {
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  return crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
}

function publicKeyFromRaw(raw) {
  const der = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]);
  return crypto.createPublicKey({ key: der, format: 'der', type: 'spki' });
}

/** A signer: the Ed25519 private key and its key id. */
function signer(privateKey) {
  return { key: privateKey, keyid: keyid(rawPublicKey(privateKey)) };
}

function sign(s, type, body) {
  return { keyid: s.keyid, sig: crypto.sign(null, pae(type, body), s.key) };
}

/**
 * Verify: at most the first 4 signatures; unknown key ids are skipped; accept
 * if any signature by a key of `keys` (Map keyid -> {key, ...}) verifies.
 * Returns the key entry that verified, or throws UNKNOWN_KEY / SIGNATURE_INVALID.
 */
function verifySignatures(keys, type, body, signatures) {
  let known = false;
  const msg = pae(type, body);
  for (const s of (signatures || []).slice(0, MAX_SIGNATURES)) {
    const k = keys.get(s.keyid);
    if (!k) continue;
    known = true;
    if (crypto.verify(null, msg, k.key, Buffer.from(s.sig))) return k;
  }
  throw new G2GError(16, known ? 'SIGNATURE_INVALID' : 'UNKNOWN_KEY', 'no valid signature');
}

// ---------------------------------------------------------------- errors

const CODES = {
  OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5,
  ALREADY_EXISTS: 6, PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9,
  ABORTED: 10, OUT_OF_RANGE: 11, UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14,
  DATA_LOSS: 15, UNAUTHENTICATED: 16,
};
const CODE_NAMES = Object.fromEntries(Object.entries(CODES).map(([k, v]) => [v, k]));

class G2GError extends Error {
  constructor(code, reason, message, metadata = {}, domain = 'g2g.provider') {
    super(message);
    this.code = code;
    this.reason = reason;
    this.metadata = metadata;
    this.domain = domain;
  }
}

/** The grpc-status-details-bin bytes of PROTOCOL.md §5.1. */
function statusDetails(root, code, message, domain, reason, metadata) {
  const EI = root.lookupType('google.rpc.ErrorInfo');
  const ST = root.lookupType('google.rpc.Status');
  const info = EI.encode(EI.create({ reason, domain, metadata })).finish();
  return Buffer.from(ST.encode(ST.create({
    code, message,
    details: [{ type_url: 'type.googleapis.com/google.rpc.ErrorInfo', value: info }],
  })).finish());
}

/** Decode a received grpc-status-details-bin into {code, message, domain, reason, metadata}. */
function parseStatusDetails(root, bytes) {
  const ST = root.lookupType('google.rpc.Status');
  const EI = root.lookupType('google.rpc.ErrorInfo');
  const st = ST.decode(bytes);
  const infos = st.details.filter((d) => (d.type_url || d.typeUrl) === 'type.googleapis.com/google.rpc.ErrorInfo');
  const info = infos.length === 1 ? EI.decode(infos[0].value) : null;
  return {
    code: st.code, message: st.message,
    domain: info ? info.domain : null, reason: info ? info.reason : null,
    metadata: info ? Object.fromEntries(Object.entries(info.metadata).sort(([x], [y]) => (x < y ? -1 : 1))) : {},
  };
}

// ---------------------------------------------------------------- identity

/** PKI.md §Identity in certificates. */
const agencyDns = (id) => `${id.toLowerCase().split('/').join('.')}.agency.g2g.invalid`;
const brokerDns = (id) => `${id.toLowerCase().split('/').join('.')}.broker.g2g.invalid`;
const slug = (id) => id.toLowerCase().split('/').join('-');

/**
 * The identity a certificate names: {kind: 'agency'|'broker', id} or null.
 * Exactly one `urn:g2g:` URI and exactly one DNS name ending `.g2g.invalid`,
 * which must equal the URI's DNS form (case-insensitively).
 */
function certIdentity(subjectaltname) {
  if (!subjectaltname) return null;
  const parts = subjectaltname.split(/,\s*/);
  const uris = parts.filter((p) => p.startsWith('URI:urn:g2g:')).map((p) => p.slice(4));
  const dns = parts.filter((p) => p.startsWith('DNS:') && p.toLowerCase().endsWith('.g2g.invalid')).map((p) => p.slice(4));
  if (uris.length !== 1 || dns.length !== 1) return null;
  const m = /^urn:g2g:(agency|broker):(.+)$/.exec(uris[0]);
  if (!m || !/^[A-Z0-9]{2,8}(\/[A-Z0-9-]{1,40}){1,4}$/.test(m[2])) return null;
  const want = m[1] === 'agency' ? agencyDns(m[2]) : brokerDns(m[2]);
  if (dns[0].toLowerCase() !== want) return null;
  return { kind: m[1], id: m[2] };
}

// ---------------------------------------------------------------- registry

function parseTime(s) {
  if (s === undefined || s === null) return null;
  if (s instanceof Date) return s.getTime() / 1000;
  const t = Date.parse(String(s));
  if (Number.isNaN(t)) throw new Error(`bad time ${s}`);
  return t / 1000;
}

function keyEntry(e) {
  const raw = Buffer.from(e.public_key, 'base64');
  if (raw.length !== 32) throw new Error('registry public_key is not 32 raw bytes');
  const id = keyid(raw);
  if (e.keyid && e.keyid !== id) throw new Error(`registry keyid ${e.keyid} does not match its key`);
  return {
    keyid: id, key: publicKeyFromRaw(raw),
    notBefore: parseTime(e.not_before), notAfter: parseTime(e.not_after), revokedAt: parseTime(e.revoked_at),
  };
}

/**
 * PKI.md §2: a party's signing keys are the union of its inline keys, its
 * published.yaml entry, and (with neither) its signing.pub in the PKI dir.
 */
function loadRegistry(registryPath, pkiDir) {
  const reg = YAML.parse(fs.readFileSync(registryPath, 'utf8'));
  let published = {};
  const pubPath = path.join(pkiDir, 'published.yaml');
  if (fs.existsSync(pubPath)) {
    const p = YAML.parse(fs.readFileSync(pubPath, 'utf8')) || {};
    for (const party of p.parties || []) published[party.id] = party;
  }
  // A key in both sources gets the stricter of each time (PKI.md §2).
  const latest = (x, y) => (x === null ? y : y === null ? x : Math.max(x, y));
  const earliest = (x, y) => (x === null ? y : y === null ? x : Math.min(x, y));
  function keysFor(id, inline, pubFile) {
    const entries = [...(inline || []), ...((published[id] || {}).signing_keys || [])];
    const keys = new Map();
    for (const e of entries) {
      const k = keyEntry(e);
      const o = keys.get(k.keyid);
      keys.set(k.keyid, o ? { ...k, notBefore: latest(k.notBefore, o.notBefore), notAfter: earliest(k.notAfter, o.notAfter), revokedAt: earliest(k.revokedAt, o.revokedAt) } : k);
    }
    if (keys.size === 0 && inline === undefined && fs.existsSync(pubFile)) {
      const k = crypto.createPublicKey(fs.readFileSync(pubFile));
      const raw = rawPublicKey(k);
      keys.set(keyid(raw), { keyid: keyid(raw), key: k, notBefore: null, notAfter: null, revokedAt: null });
    }
    return keys;
  }
  const agencies = new Map();
  for (const a of reg.agencies || []) {
    agencies.set(a.id, {
      id: a.id, endpoint: a.endpoint, services: (a.services || []).map((s) => s.name),
      keys: keysFor(a.id, a.signing_keys, path.join(pkiDir, 'agencies', slug(a.id), 'signing.pub')),
    });
  }
  const broker = {
    id: reg.broker.id, endpoint: reg.broker.endpoint,
    keys: keysFor('broker', reg.broker.signing_keys, path.join(pkiDir, 'broker', 'signing.pub')),
  };
  return { agencies, broker };
}

// ---------------------------------------------------------------- envelopes

function timestamp(seconds) {
  const s = Math.floor(seconds);
  return { seconds: s, nanos: Math.round((seconds - s) * 1e9) };
}
const tsSeconds = (t) => Number(t.seconds) + (t.nanos || 0) / 1e9;

/** Build and sign an envelope (PROTOCOL.md §2). `fields` are Header fields. */
function sealEnvelope(root, s, fields, payload) {
  const H = root.lookupType('g2g.v1.Header');
  const header = H.encode(H.fromObject({ version: 1, ...fields, payloadSha256: sha256(payload) })).finish();
  return { header: Buffer.from(header), payload: Buffer.from(payload), signatures: [sign(s, HEADER_TYPE, header)] };
}

const TS_MIN = -62135596800;
const TS_MAX = 253402300799;

/**
 * Open an envelope (PROTOCOL.md §3 steps 4–10, verify then parse): the
 * signature over the raw header bytes with the expected sender's keys, then
 * parse, unknown fields, kind, sender, key validity, payload digest, time rules.
 */
function openEnvelope(root, env, { sender, keys, kind, now = Date.now() / 1000, skew = 300, lifetime = 600 }) {
  const H = root.lookupType('g2g.v1.Header');
  const used = verifySignatures(keys, HEADER_TYPE, env.header, env.signatures);
  let h;
  try { h = H.decode(env.header); } catch (e) {
    throw new G2GError(CODES.INVALID_ARGUMENT, 'HEADER_UNPARSEABLE', 'header does not parse');
  }
  const unk = unknownFields(H, env.header);
  if (unk.length) {
    throw new G2GError(CODES.INVALID_ARGUMENT, 'HEADER_INVALID', 'unknown header fields',
      { field: '.', numbers: unk.map((u) => u.number).sort((a, b) => a - b).slice(0, 16).join(',') });
  }
  for (const f of ['createdAt', 'expiresAt']) {
    const t = h[f];
    if (!t) throw new G2GError(CODES.INVALID_ARGUMENT, 'HEADER_INVALID', `${f} is required`, { field: f === 'createdAt' ? 'created_at' : 'expires_at', rule: 'required' });
    if (Number(t.seconds) < TS_MIN || Number(t.seconds) > TS_MAX || t.nanos < 0 || t.nanos > 999999999) {
      throw new G2GError(CODES.INVALID_ARGUMENT, 'HEADER_INVALID', 'timestamp out of range', { field: f === 'createdAt' ? 'created_at' : 'expires_at', rule: 'timestamp.range' });
    }
  }
  if (h.version !== 1) throw new G2GError(CODES.INVALID_ARGUMENT, 'HEADER_INVALID', 'version', { field: 'version', rule: 'uint32.const' });
  if (h.kind !== kind) throw new G2GError(CODES.INVALID_ARGUMENT, 'WRONG_KIND', 'wrong kind');
  if (h.sender !== sender) throw new G2GError(CODES.UNAUTHENTICATED, 'SENDER_MISMATCH', 'sender mismatch');
  const created = tsSeconds(h.createdAt);
  const expires = tsSeconds(h.expiresAt);
  if (used.revokedAt !== null && created >= used.revokedAt) throw new G2GError(CODES.UNAUTHENTICATED, 'KEY_REVOKED', 'key revoked', { keyid: used.keyid });
  if (used.notAfter !== null && created >= used.notAfter) throw new G2GError(CODES.UNAUTHENTICATED, 'KEY_EXPIRED', 'key expired', { keyid: used.keyid });
  if (used.notBefore !== null && created < used.notBefore) throw new G2GError(CODES.UNAUTHENTICATED, 'KEY_NOT_YET_VALID', 'key not yet valid', { keyid: used.keyid });
  if (!sha256(env.payload || Buffer.alloc(0)).equals(Buffer.from(h.payloadSha256))) {
    throw new G2GError(CODES.INVALID_ARGUMENT, 'PAYLOAD_DIGEST_MISMATCH', 'payload digest mismatch');
  }
  checkTimes(created, expires, now, skew, lifetime);
  return { header: h, headerBytes: Buffer.from(env.header), payload: Buffer.from(env.payload || []), keyid: used.keyid };
}

/** PROTOCOL.md §2.4. */
function checkTimes(created, expires, now, skew, lifetime) {
  if (!(created <= now + skew)) throw new G2GError(CODES.FAILED_PRECONDITION, 'NOT_YET_VALID', 'not yet valid');
  if (!(created < expires && expires <= created + lifetime)) throw new G2GError(CODES.FAILED_PRECONDITION, 'LIFETIME_TOO_LONG', 'lifetime too long');
  if (!(now < expires + skew && created >= now - lifetime - skew)) throw new G2GError(CODES.FAILED_PRECONDITION, 'EXPIRED', 'expired');
}

// ---------------------------------------------------------------- field masks

/**
 * Clear every field outside the mask (PROTOCOL.md §4): a path selects the
 * field and its subtree; a path through a repeated message applies to every
 * element. Works on a decoded protobufjs message, in place.
 */
function applyMask(type, msg, paths) {
  const tree = {};
  for (const p of paths) {
    let node = tree;
    const segs = p.split('.');
    segs.forEach((s, i) => {
      if (node === true) return;
      if (i === segs.length - 1) node[s] = true;
      else node = node[s] = (node[s] === true ? true : node[s] || {});
    });
  }
  prune(type, msg, tree);
  return msg;
}

function prune(type, msg, tree) {
  for (const f of type.fieldsArray) {
    const sel = tree[pname(f)]; // proto (snake_case) name, as in masks
    const key = f.name;
    if (sel === true) continue;
    if (!sel) { delete msg[key]; continue; }
    f.resolve();
    if (!(f.resolvedType instanceof protobuf.Type) || msg[key] === undefined || msg[key] === null) { if (!(f.resolvedType instanceof protobuf.Type)) delete msg[key]; continue; }
    const items = f.repeated ? msg[key] : [msg[key]];
    for (const it of items) prune(f.resolvedType, it, sel);
  }
  // oneof bookkeeping: protobufjs tracks virtual oneof props; clear the ones now empty
  for (const o of type.oneofsArray || []) {
    if (o.oneof.every((n) => msg[n] === undefined)) delete msg[o.name];
  }
}
// protobufjs camel-cases names; masks and field paths use the proto names.
const pname = (f) => f.protoName || f.name;

/** Set field paths (proto names) of a payload, to check a mask (dot paths, up to leaves). */
function setPaths(type, bytes) {
  const out = new Set();
  (function walk(t, b, prefix) {
    const r = protobuf.Reader.create(b);
    while (r.pos < r.len) {
      const tag = r.uint32();
      const f = t.fieldsById[tag >>> 3];
      const wt = tag & 7;
      if (!f) { r.skipType(wt); continue; }
      f.resolve();
      const p = prefix ? `${prefix}.${pname(f)}` : pname(f);
      if (wt === 2 && f.resolvedType instanceof protobuf.Type && !f.map) {
        const sub = r.bytes();
        out.add(p);
        walk(f.resolvedType, sub, p);
      } else { out.add(p); r.skipType(wt); }
    }
  })(type, bytes, '');
  return out;
}

/** The set paths not covered by the mask (a path covers itself and its subtree). */
function outsideMask(type, bytes, mask) {
  const bad = [];
  for (const p of setPaths(type, bytes)) {
    const covered = mask.some((m) => p === m || p.startsWith(m + '.') || m.startsWith(p + '.'));
    // A parent message on the way to a masked leaf is allowed (it carries the leaf).
    if (!covered) bad.push(p);
  }
  return bad;
}

module.exports = {
  HEADER_TYPE, ATTESTATION_TYPE, KIND_REQUEST, KIND_RESPONSE, CODES, CODE_NAMES,
  G2GError, loadRoot, methodTypes, unknownFields, pae, sha256, keyid, rawPublicKey,
  privateKeyFromSeed, publicKeyFromRaw, signer, sign, verifySignatures, statusDetails,
  parseStatusDetails, agencyDns, brokerDns, slug, certIdentity, loadRegistry, timestamp,
  tsSeconds, sealEnvelope, openEnvelope, checkTimes, applyMask, outsideMask, setPaths,
};
