'use strict';
// The auditor's side, from docs/AUDIT.md alone: RFC 6962 leaves and roots,
// the documented proof fold, canonical record bytes, and signed checkpoints.
//   node audit.js vectors VECTOR_DIR          # merkle_rfc6962.json, audit_record_*.json
//   node audit.js proof LOG_PUB_PEM PROOF.json...   # `g2g audit proof --seq N` outputs
// Exit 1 on any difference.
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const sha256 = (...parts) => crypto.createHash('sha256').update(Buffer.concat(parts)).digest();
const leaf = (bytes) => sha256(Buffer.from([0]), bytes);
const node = (l, r) => sha256(Buffer.from([1]), l, r);

/** RFC 6962 §2.1 Merkle Tree Hash: split at the largest power of two < n. */
function mth(leaves) {
  if (leaves.length === 1) return leaves[0];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return node(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}
/** RFC 6962 §2.1.1 PATH(m, D[n]), leaf to root. */
function path6962(m, leaves) {
  if (leaves.length === 1) return [];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return m < k ? [...path6962(m, leaves.slice(0, k)), mth(leaves.slice(k))]
    : [...path6962(m - k, leaves.slice(k)), mth(leaves.slice(0, k))];
}
/** The fold of docs/AUDIT.md §Checking a proof by hand, step 3. */
function rootFromProof(seq, size, lf, proof) {
  let fn = seq; let sn = size - 1; let r = lf;
  for (const p of proof) {
    if ((fn & 1) || fn === sn) {
      r = node(p, r);
      while (fn && !(fn & 1)) { fn >>= 1; sn >>= 1; }
    } else {
      r = node(r, p);
    }
    fn >>= 1; sn >>= 1;
  }
  if (sn !== 0) throw new Error('proof too short');
  return r;
}

/** Canonical JSON (AUDIT.md §Records): sorted keys, no whitespace, UTF-8. */
function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

/** C2SP signed note with an Ed25519 key (AUDIT.md steps 1): returns {origin, size, root}. */
function verifyCheckpoint(note, pubKey) {
  const lines = note.split('\n');
  const body = `${lines[0]}\n${lines[1]}\n${lines[2]}\n`;
  if (lines[3] !== '') throw new Error('no blank line after the checkpoint body');
  const raw = Buffer.from(pubKey.export({ format: 'jwk' }).x, 'base64url');
  const keyHash = sha256(Buffer.from(`${lines[0]}\n`), Buffer.from([1]), raw).subarray(0, 4);
  let good = false;
  for (const line of lines.slice(4)) {
    const m = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!m || m[1] !== lines[0]) continue;
    const sig = Buffer.from(m[2], 'base64');
    if (sig.length === 68 && sig.subarray(0, 4).equals(keyHash) && crypto.verify(null, Buffer.from(body), pubKey, sig.subarray(4))) good = true;
  }
  if (!good) throw new Error('no signature by the log key verifies');
  return { origin: lines[0], size: Number(lines[1]), root: Buffer.from(lines[2], 'base64') };
}

let checks = 0;
let failures = 0;
function eq(name, got, want) {
  checks += 1;
  if (got !== want) { failures += 1; console.log(`FAIL ${name}\n  got  ${got}\n  want ${want}`); }
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === 'vectors') {
  const dir = rest[0];
  const mv = JSON.parse(fs.readFileSync(path.join(dir, 'merkle_rfc6962.json'), 'utf8'));
  const leaves = mv.leaves_hex.map((h) => leaf(Buffer.from(h, 'hex')));
  for (const [n, root] of Object.entries(mv.roots_hex)) {
    const ls = leaves.slice(0, Number(n));
    eq(`merkle root of ${n} leaves`, mth(ls).toString('hex'), root);
    for (let m = 0; m < ls.length; m += 1) {
      eq(`fold of the proof for leaf ${m} of ${n}`, rootFromProof(m, ls.length, ls[m], path6962(m, ls)).toString('hex'), root);
    }
  }
  const records = [];
  for (const f of ['audit_record_v1.json', 'audit_record_v2.json']) {
    const v = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
    records.push([f, v]);
  }
  const opt = JSON.parse(fs.readFileSync(path.join(dir, 'audit_record_v2_optional.json'), 'utf8'));
  for (const c of opt.cases) records.push([`audit_record_v2_optional.json ${c.name}`, c]);
  for (const [name, v] of records) {
    const bytes = Buffer.from(v.record, 'utf8');
    eq(`${name}: leaf hash`, leaf(bytes).toString('hex'), v.leaf_hash);
    eq(`${name}: record bytes are canonical JSON`, canonical(JSON.parse(v.record)), v.record);
    eq(`${name}: seq`, JSON.parse(v.record).seq, v.seq);
  }
} else if (mode === 'proof') {
  const pub = crypto.createPublicKey(fs.readFileSync(rest[0]));
  for (const f of rest.slice(1)) {
    const p = JSON.parse(fs.readFileSync(f, 'utf8'));
    const cp = verifyCheckpoint(p.checkpoint, pub);
    const bytes = Buffer.from(p.record_bytes, 'base64');
    eq(`seq ${p.seq}: record bytes are canonical JSON`, canonical(JSON.parse(bytes.toString('utf8'))), bytes.toString('utf8'));
    eq(`seq ${p.seq}: leaf hash`, leaf(bytes).toString('base64'), p.leaf_hash);
    eq(`seq ${p.seq}: checkpoint size`, cp.size, p.tree_size);
    eq(`seq ${p.seq}: folded proof = the signed root`,
      rootFromProof(p.seq, cp.size, leaf(bytes), p.inclusion_proof.map((x) => Buffer.from(x, 'base64'))).toString('base64'),
      cp.root.toString('base64'));
  }
} else {
  console.error('usage: audit.js vectors DIR | proof LOG_PUB PROOF.json...');
  process.exit(2);
}
console.log(`${failures === 0 ? 'OK' : 'FAILED'}: ${checks - failures}/${checks} audit checks passed`);
process.exit(failures === 0 ? 0 : 1);
