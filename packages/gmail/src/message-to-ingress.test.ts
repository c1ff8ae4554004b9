import { describe, expect, it } from '@jest/globals';
import { isIncomingMessage, messageToIngress } from './message-to-ingress';

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
      date: '2026-01-01T09:00:00.000Z',
      body: '<p>Lien : https://www.dropbox.com/scl/fo/x/file.zip</p>',
      snippet: 'Bonjour',
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
  ])('uses Gmail internalDate when the Date header is %s', async (_label, header) => {
    const email = await messageToIngress({
      ...base,
      raw: raw(['From: a@example.org', ...header, 'Content-Type: text/html', '', '<p>x</p>']),
    });
    expect(email.date).toBe(new Date(Number(base.internalDate)).toISOString());
  });
});

describe('isIncomingMessage', () => {
  it.each([
    [['INBOX', 'UNREAD'], true],
    [['DRAFT'], false],
    [['SENT'], false],
    [['SENT', 'INBOX'], true],
    [undefined, true],
  ])('%j → %s', (labels, expected) => {
    expect(isIncomingMessage(labels)).toBe(expected);
  });
});
