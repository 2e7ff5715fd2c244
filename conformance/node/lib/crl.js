'use strict';
// Certificate status against the federation CA's CRL (docs/PKI.md §4), with
// a minimal DER reader: Node's crypto parses certificates but not CRLs.
const crypto = require('crypto');
const fs = require('fs');

function readTLV(buf, pos) {
  const tag = buf[pos];
  let len = buf[pos + 1];
  let hdr = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i += 1) len = len * 256 + buf[pos + 2 + i];
    hdr = 2 + n;
  }
  return { tag, start: pos, hdrEnd: pos + hdr, end: pos + hdr + len };
}
function children(buf, tlv) {
  const out = [];
  for (let p = tlv.hdrEnd; p < tlv.end;) { const c = readTLV(buf, p); out.push(c); p = c.end; }
  return out;
}
const raw = (buf, t) => buf.subarray(t.start, t.end);
const value = (buf, t) => buf.subarray(t.hdrEnd, t.end);

function parseTime(buf, t) {
  const s = value(buf, t).toString('ascii');
  // UTCTime YYMMDDHHMMSSZ or GeneralizedTime YYYYMMDDHHMMSSZ
  const full = t.tag === 0x17 ? (Number(s.slice(0, 2)) >= 50 ? '19' : '20') + s : s;
  return Date.UTC(+full.slice(0, 4), +full.slice(4, 6) - 1, +full.slice(6, 8), +full.slice(8, 10), +full.slice(10, 12), +full.slice(12, 14)) / 1000;
}
const serialHex = (b) => { let i = 0; while (i < b.length - 1 && b[i] === 0) i += 1; return b.subarray(i).toString('hex'); };

function pemBlocks(text, label) {
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`, 'g');
  const out = [];
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(Buffer.from(m[1].replace(/\s+/g, ''), 'base64'));
  return out;
}

/** Subject Name DER of a certificate (tbsCertificate: [0]version?, serial, sigAlg, issuer, validity, subject). */
function subjectDer(der) {
  const cert = readTLV(der, 0);
  const tbs = children(der, cert)[0];
  const f = children(der, tbs);
  const off = f[0].tag === 0xa0 ? 1 : 0;
  return raw(der, f[off + 4]);
}

/** Parse and verify a CRL against the CA certificates; throws on any fault. */
function loadCrl(crlBytes, caPem) {
  const der = crlBytes.toString('latin1').includes('-----BEGIN X509 CRL-----') ? pemBlocks(crlBytes.toString('latin1'), 'X509 CRL')[0] : crlBytes;
  const top = readTLV(der, 0);
  const [tbs, , sig] = children(der, top);
  const f = children(der, tbs);
  let i = f[0].tag === 0x02 ? 1 : 0; // version
  i += 1; // signature algorithm
  const issuer = raw(der, f[i]); i += 1;
  i += 1; // thisUpdate
  let nextUpdate = null;
  if (f[i] && (f[i].tag === 0x17 || f[i].tag === 0x18)) { nextUpdate = parseTime(der, f[i]); i += 1; }
  const revoked = new Set();
  if (f[i] && f[i].tag === 0x30) {
    for (const r of children(der, f[i])) revoked.add(serialHex(value(der, children(der, r)[0])));
  }
  const sigBytes = value(der, sig).subarray(1); // BIT STRING: drop the unused-bits byte
  const cas = pemBlocks(caPem.toString('latin1'), 'CERTIFICATE');
  for (const caDer of cas) {
    if (!subjectDer(caDer).equals(issuer)) continue;
    const ca = new crypto.X509Certificate(caDer);
    if (!crypto.verify('sha256', raw(der, tbs), ca.publicKey, sigBytes)) throw new Error('CRL signature does not verify');
    if (nextUpdate === null) throw new Error('CRL has no nextUpdate');
    return { ca, nextUpdate, revoked };
  }
  throw new Error('CRL issuer is not a federation CA');
}

/**
 * PROTOCOL.md §3 step 1a / §4, PKI.md §4: null if the certificate is good,
 * else {reason, metadata}.
 */
function certStatus(peerDer, crls, now = Date.now() / 1000, graceSeconds = 0) {
  const cert = new crypto.X509Certificate(peerDer);
  const serial = serialHex(Buffer.from(cert.serialNumber, 'hex'));
  if (Date.parse(cert.validTo) / 1000 <= now) return { reason: 'CERT_EXPIRED', metadata: { serial } };
  const crl = crls.find((c) => cert.checkIssued(c.ca) && cert.verify(c.ca.publicKey));
  if (!crl) return { reason: 'CERT_STATUS_UNKNOWN', metadata: { serial } };
  if (crl.revoked.has(serial)) return { reason: 'CERT_REVOKED', metadata: { serial } };
  if (now > crl.nextUpdate + graceSeconds) {
    return { reason: 'CRL_STALE', metadata: { serial, next_update: new Date(crl.nextUpdate * 1000).toISOString().replace('.000Z', 'Z') } };
  }
  return null;
}

function loadCrlFile(file, caFile) { return loadCrl(fs.readFileSync(file), fs.readFileSync(caFile)); }

module.exports = { loadCrl, loadCrlFile, certStatus };
