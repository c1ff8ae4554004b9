import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Mailbox credentials (refresh tokens) at rest: AES-256-GCM under a key derived from SECRET_KEY with
 * HKDF, its own purpose string so it can never collide with the session or magic-link keys. The
 * mailbox address is the additional authenticated data: a blob copied onto another mailbox fails.
 * Format: `v1.<iv b64url>.<ciphertext b64url>.<tag b64url>`.
 */
export interface CredentialCipher {
  encrypt(plaintext: string, mailbox: string): string;
  /** Throws when the blob was not made with this key for this mailbox. */
  decrypt(blob: string, mailbox: string): string;
}

const VERSION = 'v1';
const TAG_BYTES = 16;

export function deriveCredentialKey(secretKey: string): Buffer {
  return Buffer.from(
    hkdfSync('sha256', Buffer.from(secretKey, 'utf8'), Buffer.from('render-signal/gmail', 'utf8'), 'mailbox-credentials/v1', 32),
  );
}

export function createCredentialCipher(secretKey: string): CredentialCipher {
  const key = deriveCredentialKey(secretKey);
  const aad = (mailbox: string) => Buffer.from(mailbox.toLowerCase(), 'utf8');
  return {
    encrypt(plaintext, mailbox) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(aad(mailbox));
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return [VERSION, iv.toString('base64url'), ciphertext.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
    },
    decrypt(blob, mailbox) {
      const [version, iv, ciphertext, tag] = blob.split('.');
      if (version !== VERSION || !iv || ciphertext === undefined || !tag) throw new Error('unreadable credential blob');
      // authTagLength pins the tag to 16 bytes: without it Node accepts a truncated tag (4+ bytes), a forgery shortcut.
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), { authTagLength: TAG_BYTES });
      decipher.setAAD(aad(mailbox));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
    },
  };
}
