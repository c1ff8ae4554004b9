import { describe, expect, it } from '@jest/globals';
import { detectDesabo } from './desabo';

const BODY = 'Bonjour, pour la Journée du 12, nos tarifs habituels. Se désabonner ici.';

describe('detectDesabo: matches', () => {
  it.each([
    ['keywords + désabonner in body', 'Info', BODY, true],
    ['accents and case ignored', 'Info', 'JOURNÉE … TARIFS HABITUELS … DÉSABONNEMENT', true],
    ['whitespace runs collapsed', 'Info', 'journée\n\n tarifs   habituels desabonner', true],
    ['désabonn in the subject only', 'Se désabonner', 'journée et tarifs habituels', true],
    ['dropbox request link instead of désabonn', 'Info', 'journée tarifs habituels https://www.dropbox.com/request/abc', true],
    ['dropbox request link, upper case', 'Info', 'journée tarifs habituels HTTPS://WWW.DROPBOX.COM/REQUEST/abc', true],
    ['missing journée', 'Info', 'tarifs habituels desabonner', false],
    ['missing tarifs habituels', 'Info', 'journée tarifs desabonner', false],
    ['missing désabonn and request link', 'Info', 'journée tarifs habituels', false],
    ['dropbox request without www does not count', 'Info', 'journée tarifs habituels https://dropbox.com/request/abc', false],
    ['keywords in the subject do not count', 'journée tarifs habituels', 'desabonner', false],
    ['empty', '', '', false],
  ])('%s', (_case, subject, body, expected) => {
    expect(detectDesabo(subject, body).matches).toBe(expected);
  });
});

describe('detectDesabo: forbidden words in the body', () => {
  it.each(['annulation', 'facturation', 'Facture', 'pour le moment', 'référence client', 'Total HT', 'momentanément'])(
    '%s kills the match',
    (word) => {
      expect(detectDesabo('Info', `${BODY} ${word}`).matches).toBe(false);
    },
  );
  it('a forbidden word in the subject does not', () => {
    expect(detectDesabo('Facture', BODY).matches).toBe(true);
  });
});

describe('detectDesabo: flags', () => {
  it.each([
    ['Info', BODY, false, false],
    ['URGENT', BODY, false, true],
    ['Info', `${BODY} c'est urgent`, false, true],
    ['Urgence', BODY, false, true],
    ['Info', `${BODY} URGENCE`, false, true],
    ['Info', `${BODY} https://www.dropbox.com/request/x`, true, false],
  ])('subject %j → has_dropbox_request %s, is_urgent %s', (subject, body, request, urgent) => {
    const result = detectDesabo(subject, body);
    expect(result.has_dropbox_request).toBe(request);
    expect(result.is_urgent).toBe(urgent);
  });
});
