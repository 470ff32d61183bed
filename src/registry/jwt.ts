/**
 * The registry's bearer tokens: compact JWS with ES256, signed and checked by the same server,
 * carrying the distribution token spec's claims (iss, sub, aud, exp, nbf, iat, jti, access).
 * The signing key is P-256, generated into the registry's root on first use unless one is given.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, randomBytes, sign, verify } from 'node:crypto';
import * as fs from 'node:fs';

export interface AccessClaim {
  type: string;
  name: string;
  actions: string[];
}

export interface TokenClaims {
  iss: string;
  sub: string;
  aud: string;
  exp: number;
  nbf: number;
  iat: number;
  jti: string;
  access: AccessClaim[];
}

const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64url');

export class TokenKey {
  private constructor(
    private readonly priv: KeyObject,
    private readonly pub: KeyObject,
  ) {}

  /** The key in `path` (PEM), made there (mode 0600) when the file does not exist. */
  static load(path: string): TokenKey {
    if (!fs.existsSync(path)) {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      fs.writeFileSync(path, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    }
    const priv = createPrivateKey(fs.readFileSync(path));
    if (priv.asymmetricKeyType !== 'ec' || priv.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new Error(`${path}: the token key must be an EC P-256 private key`);
    return new TokenKey(priv, createPublicKey(priv));
  }

  sign(claims: Omit<TokenClaims, 'jti'>): string {
    const header = b64(JSON.stringify({ alg: 'ES256', typ: 'JWT' }));
    const payload = b64(JSON.stringify({ ...claims, jti: randomBytes(12).toString('hex') }));
    const sig = sign('sha256', Buffer.from(`${header}.${payload}`), { key: this.priv, dsaEncoding: 'ieee-p1363' });
    return `${header}.${payload}.${b64(sig)}`;
  }

  /** The claims of a token this key signed, still valid for `aud` from `iss`; undefined otherwise. */
  verify(token: string, expect: { iss: string; aud: string }, now = Date.now() / 1000): TokenClaims | undefined {
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    try {
      const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString()) as { alg?: string };
      if (header.alg !== 'ES256') return undefined;
      const ok = verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), { key: this.pub, dsaEncoding: 'ieee-p1363' }, Buffer.from(parts[2], 'base64url'));
      if (!ok) return undefined;
      const c = JSON.parse(Buffer.from(parts[1], 'base64url').toString()) as TokenClaims;
      // A minute of leeway for clocks, as distribution allows.
      if (c.iss !== expect.iss || c.aud !== expect.aud || !(c.exp > now - 60) || !(c.nbf <= now + 60) || !Array.isArray(c.access)) return undefined;
      return c;
    } catch {
      return undefined;
    }
  }
}
