import { deflateRawSync, inflateRawSync } from 'node:zlib';

/**
 * How a journey's list element is stored. A batch's events for one email are one JSON line (an event, or an array
 * of events); a line of at least LINE_COMPRESS_MIN_BYTES is stored deflated (raw deflate, level 6, primed with
 * DICTIONARY_V1) behind the byte MARK_DEFLATE_V1, which no JSON text starts with. A delivered fast-path email's line
 * (its five events, the exact payload with the body twice in it) shrinks about 5× (1.7 KB → 0.3 KB for the bench's
 * small emails) for some 20 µs of CPU in the worker's recorder; lines are inflated only when a journey is read back.
 * Lines written before (plain JSON) are read as they are.
 */
export const LINE_COMPRESS_MIN_BYTES = 256;
const MARK_DEFLATE_V1 = 0x01;

/**
 * What a journey line usually says: event and payload field names and common values, the most frequent last
 * (deflate reaches a near match more cheaply). NEVER change it: lines written with it are read with it; a better
 * dictionary takes a new mark byte (line.test.ts pins its digest).
 */
const DICTIONARY_V1 = Buffer.from(
  [
    '"redelivery":true,"next_attempt_at":"failure_reason":"retrying","failed","status_code":null,',
    '{"type":"skipped","kind":"filtered","detail":"reason":"outside_window","offloading":',
    '{"type":"offload","links":[{"index":0,"outcome":"transferred","cached","reason":null,"detail":null}]}',
    '"detector":"recadrage","delivery_time":"webhooks_time_start":"webhooks_time_end":"routing_rule":{"id":"name":"priority":',
    '"rules":[{"id":"name":"enabled":true,"match":"all","matched":true,"reached":true,"applied":true,"deciding":{"field":',
    '"operator":"contains","value":"stopped_by":"message_id":"thread_id":"direct_url":"r2_url":"original_filename":',
    '"mode":"json","fallback_on_415":false,"tls_verify":false,"require_success_flag":true,"headers":{"secret":',
    '[{"type":"received","at":1,"accepted_at":1,"source":"gmail","job_id":"","subject":"","sender":""},',
    '{"type":"planned","at":1,"window":{"reason":"no_window","send":true},"links":[{"provider":"dropbox","raw_url":"https://www.dropbox.com/',
    '"}],"targets":[{"webhook_id":"msg_","target":"https://hook.eu1.make.com/***","origin":"default","priority":5}]},',
    '{"type":"dispatched","at":1,"deliveries":[{"webhook_id":"msg_","target":"https://***","origin":"default","priority":5}]},',
    '{"type":"attempt","at":1,"webhook_id":"msg_","attempt":1,"max_attempts":8,"outcome":"delivered","status_code":200,',
    '"duration_ms":1,"response_excerpt":"{\\"success\\":true}","end_to_end_ms":1},',
    '{"type":"sent","at":1,"webhook_id":"msg_","target":{"url":"https://","origin":"default","timeout_ms":30000},',
    '"payload":{"microsoft_graph_email_id":"","subject":"","receivedDateTime":"","sender_address":" <>","bodyPreview":"<p>',
    '</p>","email_content":"<div dir=\\"ltr\\"><p>',
    '</p></div>","source":"gmail_push","sender_email":"@gmail.com",',
    '"delivery_links":[{"provider":"dropbox","raw_url":"https://www.dropbox.com/scl/fi/"}],"email_id":""}}]',
  ].join(''),
  'utf8',
);

/** The element to store for `json` (one event or an array of them, already in their stored form). */
export function encodeLine(json: string): Buffer | string {
  if (json.length < LINE_COMPRESS_MIN_BYTES) return json;
  const deflated = deflateRawSync(Buffer.from(json, 'utf8'), { dictionary: DICTIONARY_V1 });
  const out = Buffer.allocUnsafe(deflated.length + 1);
  out[0] = MARK_DEFLATE_V1;
  deflated.copy(out, 1);
  return out;
}

/** The JSON text of a stored element (plain JSON as written before, or deflated). Throws on a damaged element. */
export function decodeLine(line: Buffer): string {
  if (line[0] === MARK_DEFLATE_V1) return inflateRawSync(line.subarray(1), { dictionary: DICTIONARY_V1 }).toString('utf8');
  return line.toString('utf8');
}

/** For the test that pins the dictionary. */
export const dictionaryV1ForTest = DICTIONARY_V1;
