import { describe, expect, it } from '@jest/globals';
import { detectMediaSolution } from './media-solution';

const SUBJECT = 'Média Solution - Missions Recadrage - Lot 42';
const LINK = 'https://www.dropbox.com/scl/fo/abc123/def?rlkey=x&dl=0';
// 2025-06-10 12:34:56Z = 14:34 in Paris (CEST).
const NOW = new Date('2025-06-10T12:34:56Z');
const PARIS = 'Europe/Paris';

const detect = (subject: string, body: string, now = NOW, tz = PARIS) => detectMediaSolution(subject, body, now, tz);

describe('detectMediaSolution: subject test', () => {
  it.each([
    ['exact subject with accents', SUBJECT, true],
    ['exact subject inside a longer subject', 'Fwd: Média Solution - Missions Recadrage - Lot 7 (suite)', true],
    ['accent-stripped, lower-cased keywords', 'MEDIA SOLUTION / missions recadrage / LOT 3', true],
    ['accents stripped from keywords', 'Médïa Sölution — Missions Récadrage — Lot', true],
    ['decomposed accents (NFD input)', 'Me\u0301dia Solution - Missions Recadrage - Lot 1', true],
    ['keywords in any order', 'lot 1 missions recadrage media solution', true],
    ['"lot" may be part of a word (plain substring)', 'media solution missions recadrage pilote', true],
    ['missing "missions recadrage"', 'Média Solution - Lot 42', false],
    ['missing "media solution"', 'Missions Recadrage - Lot 42', false],
    ['double space breaks a keyword (no collapsing)', 'media  solution missions recadrage lot', false],
    ['empty subject', '', false],
  ])('%s', (_case, subject, expected) => {
    expect(detect(subject, `${LINK} à faire pour 10h30`).matches).toBe(expected);
  });
});

describe('detectMediaSolution: delivery link test', () => {
  it.each([
    ['dropbox shared folder', 'https://www.dropbox.com/scl/fo/a/b', true],
    ['dropbox without www', 'https://dropbox.com/scl/fo/a', true],
    ['http scheme', 'http://www.dropbox.com/s/abc', true],
    ['upper-case URL', 'HTTPS://WWW.DROPBOX.COM/SCL/FO/X', true],
    ['dropbox file request counts too', 'https://www.dropbox.com/request/abc', true],
    ['fromsmash', 'https://fromsmash.com/AbC-dE', true],
    ['swisstransfer', 'https://www.swisstransfer.com/d/1234-5678', true],
    ['bare dropbox path without scheme', 'voir dropbox.com/scl/fo/abc', true],
    ['bare FromSmash path, any case', 'voir FROMSMASH.COM/abc', true],
    ['bare swisstransfer /d/ path', 'voir swisstransfer.com/d/abc', true],
    ['bare dropbox path is case-sensitive', 'voir DROPBOX.COM/SCL/FO/abc', false],
    ['bare swisstransfer root is not enough', 'voir swisstransfer.com/', false],
    ['dl.dropbox subdomain is not a provider link', 'https://dl.dropboxusercontent.com/x', false],
    ['wetransfer is not a Média Solution provider', 'https://wetransfer.com/downloads/abc', false],
    ['google drive is not either', 'https://drive.google.com/file/d/abc', false],
    ['no link', 'rien', false],
  ])('%s', (_case, link, expected) => {
    expect(detect(SUBJECT, `Bonjour ${link} à faire pour 10h30`).matches).toBe(expected);
  });
});

describe('detectMediaSolution: delivery_time extraction', () => {
  it.each([
    ['time, h form', 'à faire pour 11h51', '11h51'],
    ['time, h form, no minutes', 'à faire pour 9h', '09h00'],
    ['time, h form, one-digit minutes', 'à faire pour 9h5', '09h05'],
    ['time, "a" for "à" and upper case', 'A FAIRE POUR 14H30', '14h30'],
    ['time, doubled "à"', 'à faire pour à 16h', '16h00'],
    ['time, colon form', 'à faire pour 9:05', '09h05'],
    ['time, colon form with one-digit minutes is not the colon pattern (fallback h absent)', 'à faire pour 9:5 merci', null],
    ['date + time, h form', 'à faire pour le 3/9/2025 à 9h', 'le 03/09/2025 à 09h00'],
    ['date + time, h form with minutes', 'A faire pour le 03/09/2025 a 09h15', 'le 03/09/2025 à 09h15'],
    ['date + time, doubled à', 'à faire pour le 3/9/2025 à à 18h30', 'le 03/09/2025 à 18h30'],
    ['date + time, colon form', 'à faire pour le 3/9/2025 à 9:05', 'le 03/09/2025 à 09h05'],
    [
      'date + time wins over a time-only phrase earlier in the body',
      'à faire pour 8h. Ou à faire pour le 1/2/2026 à 10h',
      'le 01/02/2026 à 10h00',
    ],
    ['h form wins over colon form', 'à faire pour le 1/2/2026 à 10:30 sinon à faire pour 11h', 'le 01/02/2026 à 10h30'],
    ['time-only h form before colon form', 'à faire pour 10:30 ou à faire pour 11h', '11h00'],
    ['fallback: any HhMM in the body', 'Livraison vers 17h45 svp', '17h45'],
    ['fallback: upper-case H', 'Livraison 17H45', '17h45'],
    ['fallback: any H:MM', 'Livraison vers 7:45 svp', '07h45'],
    ['fallback h form wins over an earlier colon time', 'avant 7:45 ou 18h', '18h00'],
    ['fallback needs a word boundary before', 'ref A12h30', null],
    ['fallback needs a word boundary after (Unicode letters count)', 'code 9hé', null],
    ['fallback: more than two digits is not a time', 'code 123h', null],
    ['hour is not range-checked', 'à faire pour 99h99', '99h99'],
    ['whitespace in the phrase may be any run, incl. NBSP', 'à\u00a0faire\n pour   12h', '12h00'],
    ['no time at all → no match', 'Merci de traiter rapidement', null],
  ])('%s', (_case, text, expected) => {
    const result = detect(SUBJECT, `${LINK}\n${text}`);
    expect(result).toEqual({ matches: expected !== null, delivery_time: expected });
  });

  it('ignores the link when looking for a time only where it has none', () => {
    // The link itself contains no time; a plain "à faire pour" sentence is required.
    expect(detect(SUBJECT, LINK)).toEqual({ matches: false, delivery_time: null });
  });
});

describe('detectMediaSolution: URGENCE', () => {
  it.each([
    ['now + 1h in Paris summer time', 'URGENCE - Média Solution - Missions Recadrage - Lot 1', NOW, PARIS, '15h34'],
    ['accented and mixed case', 'Urgence: media solution missions recadrage lot 2', NOW, PARIS, '15h34'],
    ['other time zone', 'URGENCE media solution missions recadrage lot', NOW, 'UTC', '13h34'],
    ['wraps past midnight', 'URGENCE media solution missions recadrage lot', new Date('2025-06-10T22:30:00Z'), PARIS, '01h30'],
    ['winter time', 'URGENCE media solution missions recadrage lot', new Date('2025-01-10T08:05:00Z'), PARIS, '10h05'],
    // 01:30 CET + 1h is 03:30 CEST on the day clocks go forward (absolute instant, not wall clock + 1).
    ['DST change', 'URGENCE media solution missions recadrage lot', new Date('2025-03-30T00:30:00Z'), PARIS, '03h30'],
  ])('%s', (_case, subject, now, tz, expected) => {
    // The body time is ignored when the subject says URGENCE.
    expect(detectMediaSolution(subject, `${LINK} à faire pour 10h30`, now, tz)).toEqual({ matches: true, delivery_time: expected });
  });

  it.each([
    ['"urgences" is not the word urgence', 'URGENCES media solution missions recadrage lot'],
    ['"surgence" is not either', 'surgence media solution missions recadrage lot'],
  ])('%s', (_case, subject) => {
    expect(detect(subject, `${LINK} à faire pour 10h30`).delivery_time).toBe('10h30');
  });

  it('URGENCE still needs the link and subject conditions', () => {
    expect(detect('URGENCE', `${LINK}`).matches).toBe(false);
    expect(detect('URGENCE media solution missions recadrage lot', 'pas de lien').matches).toBe(false);
  });
});

describe('detectMediaSolution: empty inputs', () => {
  it.each([
    ['', LINK],
    [SUBJECT, ''],
  ])('subject %j, body %j → no match', (subject, body) => {
    expect(detect(subject, body)).toEqual({ matches: false, delivery_time: null });
  });
});
