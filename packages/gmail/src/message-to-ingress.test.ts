import { describe, expect, it } from '@jest/globals';
import { isIncomingMessage, messageToIngress, plainText } from './message-to-ingress';

const raw = (lines: string[]) => Buffer.from(lines.join('\r\n')).toString('base64url');
const base = {
  id: '18f00000000abcd',
  threadId: '18f00000000abc0',
  labelIds: ['INBOX', 'UNREAD'],
  snippet: 'Bonjour',
  internalDate: '1767261600000',
};

describe('messageToIngress', () => {
  it('maps headers, ids and labels like the Apps Script payload', async () => {
    const email = await messageToIngress({
      ...base,
      raw: raw([
        'From: =?UTF-8?Q?Am=C3=A9lie_Dupont?= <amelie@example.org>',
        'To: "Ops, Team" <ops@example.org>, bob@example.org',
        'Cc: Team: carol@example.org, dan@example.org;',
        'Subject: =?UTF-8?B?RmFjdHVyZSDDqXTDqQ==?=',
        'Date: Thu, 01 Jan 2026 10:00:00 +0100',
        'Message-ID: <abc.123@mail.example.org>',
        'Content-Type: text/html; charset=utf-8',
        '',
        '<p>Lien : https://www.dropbox.com/scl/fo/x/file.zip</p>',
      ]),
    });
    expect(email).toEqual({
      subject: 'Facture été',
      sender: 'Amélie Dupont <amelie@example.org>',
      // Gmail's receive time (internalDate), as the Apps Script's getDate(); not the sender's Date header.
      date: new Date(Number(base.internalDate)).toISOString(),
      body: '<p>Lien : https://www.dropbox.com/scl/fo/x/file.zip</p>',
      // The start of the plain text (here rendered from the HTML), as the Apps Script; not Gmail's snippet.
      snippet: 'Lien : https://www.dropbox.com/scl/fo/x/file.zip',
      message_id: base.id,
      thread_id: base.threadId,
      rfc_message_id: '<abc.123@mail.example.org>',
      to: '"Ops, Team" <ops@example.org>, bob@example.org',
      cc: 'carol@example.org, dan@example.org',
      labels: ['INBOX', 'UNREAD'],
    });
  });

  it.each([
    ['text only: wrapped in <pre>, escaped', ['Content-Type: text/plain; charset=utf-8', '', 'a < b & c'], '<pre>a &lt; b &amp; c</pre>'],
    ['no body at all: one blank (the ingress requires a body)', ['Content-Type: text/plain', '', ''], ' '],
  ])('%s', async (_label, lines, body) => {
    const email = await messageToIngress({ ...base, raw: raw(['From: a@example.org', 'Subject: s', ...lines]) });
    expect(email.body).toBe(body);
  });

  it.each([
    ['missing', []],
    ['unreadable', ['Date: not a date']],
    ['forged (a year ahead)', ['Date: Fri, 01 Jan 2027 10:00:00 +0000']],
  ])('uses Gmail internalDate when the Date header is %s', async (_label, header) => {
    const email = await messageToIngress({
      ...base,
      raw: raw(['From: a@example.org', ...header, 'Content-Type: text/html', '', '<p>x</p>']),
    });
    expect(email.date).toBe(new Date(Number(base.internalDate)).toISOString());
  });

  it('falls back to the Date header only when Gmail gives no internalDate', async () => {
    const { internalDate: _omit, ...noInternal } = base;
    const email = await messageToIngress({
      ...noInternal,
      raw: raw(['From: a@example.org', 'Date: Thu, 01 Jan 2026 10:00:00 +0100', 'Content-Type: text/html', '', '<p>x</p>']),
    });
    expect(email.date).toBe('2026-01-01T09:00:00.000Z');
  });

  it('takes the snippet from the plain-text part, 200 characters, like the Apps Script', async () => {
    const long = 'é'.repeat(150) + ' ' + 'x'.repeat(150);
    const email = await messageToIngress({
      ...base,
      raw: raw(['From: a@example.org', 'Content-Type: text/plain; charset=utf-8', '', long]),
    });
    expect(email.snippet).toBe(long.slice(0, 200));
  });

  it('refuses a message that breaks the ingress contract (a To: header over 32 768 characters)', async () => {
    const to = Array.from({ length: 1_500 }, (_, i) => `recipient${i}@example.org`).join(', ');
    await expect(
      messageToIngress({ ...base, raw: raw(['From: a@example.org', `To: ${to}`, 'Content-Type: text/plain', '', 'x']) }),
    ).rejects.toThrow();
  });
});

describe('plainText', () => {
  it.each([
    ['text part wins', 'plain', '<p>html</p>', 'plain'],
    ['html rendered', undefined, '<style>p{}</style><p>Bonjour&nbsp;&amp; <b>salut</b></p><p>deux</p>', 'Bonjour & salut\ndeux'],
    ['nothing', undefined, undefined, ''],
  ])('%s', (_label, text, html, expected) => {
    expect(plainText(text, html)).toBe(expected);
  });
});

describe('isIncomingMessage', () => {
  it.each([
    [['INBOX', 'UNREAD'], false, true],
    [['DRAFT'], false, false],
    [['SENT'], false, false],
    // Mail to yourself: skipped like the Apps Script (own sender), kept with GMAIL_SEND_OWN_MESSAGES.
    [['SENT', 'INBOX'], false, false],
    [['SENT', 'INBOX'], true, true],
    [['SENT'], true, false],
    [['SPAM'], false, false],
    [['TRASH', 'INBOX'], false, false],
    [undefined, false, true],
  ])('%j (send own: %s) → %s', (labels, sendOwnMessages, expected) => {
    expect(isIncomingMessage(labels, { sendOwnMessages })).toBe(expected);
  });
});
