import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { decodeLine, dictionaryV1ForTest, encodeLine, LINE_COMPRESS_MIN_BYTES } from './line';

const body = '<p>Bonjour — voici le lien 📎 : https://www.dropbox.com/scl/fo/abc1/file.zip?dl=0 \u2028 "cité" \\ fin</p>';
const payload = {
  microsoft_graph_email_id: 'e1',
  subject: 'Sujet été',
  receivedDateTime: 'Tue, 8 Dec 2026 02:00:00 +0000',
  sender_address: 'Léa <lea@example.org>',
  bodyPreview: body,
  email_content: body,
  source: 'gmail_push',
  z_last: { b: 1, a: [2, null, -0.5, '\ud83d'] },
  email_id: 'e1',
};
const line = JSON.stringify([{ type: 'sent', at: 1, webhook_id: 'msg_1', target: { url: 'https://x/h', origin: 'default' }, payload }]);

describe('journey line encoding', () => {
  it('deflates a long line and gives back the same JSON text (same body bytes once re-serialised)', () => {
    const stored = encodeLine(line);
    expect(Buffer.isBuffer(stored)).toBe(true);
    expect((stored as Buffer).length).toBeLessThan(Buffer.byteLength(line) / 2);
    const text = decodeLine(stored as Buffer);
    expect(text).toBe(line);
    const back = (JSON.parse(text) as Array<{ payload: unknown }>)[0]!.payload;
    expect(Buffer.from(JSON.stringify(back), 'utf8').equals(Buffer.from(JSON.stringify(payload), 'utf8'))).toBe(true);
  });

  it('keeps a short line as JSON text, and reads lines written before (plain JSON) as they are', () => {
    const short = JSON.stringify({ type: 'attempt', at: 1 });
    expect(short.length).toBeLessThan(LINE_COMPRESS_MIN_BYTES);
    expect(encodeLine(short)).toBe(short);
    expect(decodeLine(Buffer.from(short))).toBe(short);
    expect(decodeLine(Buffer.from(line))).toBe(line);
  });

  it('throws on a damaged deflated line (the store counts it invalid)', () => {
    const stored = Buffer.from(encodeLine(line) as Buffer);
    expect(() => decodeLine(stored.subarray(0, 10))).toThrow();
  });

  it('never changes the dictionary of mark 1 (lines written with it are read with it)', () => {
    expect(createHash('sha256').update(dictionaryV1ForTest).digest('hex')).toMatchInlineSnapshot(
      `"05fde868ddf8ec21a7a6b8ae219730bc88172d9fcca7daac081531d7d06ee56f"`,
    );
  });
});
