import { z } from 'zod';

/**
 * Bulk replay (issue 26): an operator selects deliveries by a filter and sends them again, paced. The filter and
 * the saved replay record are validated here; the selection lives in packages/journeys, the runner in the worker.
 */

/** `dead_lettered`: the target's last attempt failed for good; `failed_attempts`: any failed attempt, delivered later or not. */
export const REPLAY_STATUSES = ['dead_lettered', 'failed_attempts', 'delivered', 'any'] as const;
export type ReplayStatus = (typeof REPLAY_STATUSES)[number];

export const REPLAY_PAYLOADS = ['original', 'current'] as const;
export type ReplayPayload = (typeof REPLAY_PAYLOADS)[number];

export const REPLAY_STATES = ['running', 'done', 'cancelled', 'failed'] as const;
export type ReplayState = (typeof REPLAY_STATES)[number];

/** The filter as stored and matched (the API resolves a target URL to its id and a rule name to its id). */
export const replayFilterSchema = z.object({
  status: z.enum(REPLAY_STATUSES),
  /** `targetIdOf(url)`. */
  target_id: z.string().optional(),
  /** The delivery's origin: `rule:<id>` or `default`. */
  origin: z.string().optional(),
  /** Epoch ms bounds on the arrival time (inclusive). */
  since: z.number().int().optional(),
  until: z.number().int().optional(),
  /** The emails list's free-text query, already split into folded words. */
  words: z.array(z.string()).default([]),
});
export type ReplayFilter = z.infer<typeof replayFilterSchema>;

/** Where a walk over the journeys index stands: the last email looked at (arrival ms, email_id). */
export const replayCursorSchema = z.object({ score: z.number(), email_id: z.string() });
export type ReplayCursor = z.infer<typeof replayCursorSchema>;

/** One selected delivery as a replay saves it (its list is the replay's snapshot of the selection). */
export const replayItemSchema = z.object({ email_id: z.string().min(1), webhook_id: z.string().min(1) });
export type ReplayItem = z.infer<typeof replayItemSchema>;

export const replayCountsSchema = z.object({
  total: z.number().int().min(0),
  /** Delivery jobs queued by the replay. */
  sent: z.number().int().min(0),
  delivered: z.number().int().min(0),
  failed: z.number().int().min(0),
  /** Selected but not sendable (the delivery job holding its payload is no longer kept, or no target any more). */
  skipped: z.number().int().min(0),
});

/** The saved replay (`<prefix>:replay:<id>`, a hash of JSON fields), validated whenever read back. */
export const replayRecordSchema = z.object({
  id: z.string(),
  /** Who started it (`operator (password)`, `cli:<user>`). */
  who: z.string(),
  created_at: z.number().int(),
  /** The filter as the operator wrote it (shown back), and as matched. */
  request: z.record(z.string(), z.unknown()),
  filter: replayFilterSchema,
  payload: z.enum(REPLAY_PAYLOADS),
  rate_per_s: z.number().positive(),
  state: z.enum(REPLAY_STATES),
  started_at: z.number().int().nullable(),
  finished_at: z.number().int().nullable(),
  /** Items of the saved selection handled so far (the runner resumes there). */
  cursor: z.number().int().min(0),
  /** Every item has been handled (queued or skipped); the replay is done when their outcomes are all counted. */
  walked: z.boolean(),
  error: z.string().nullable().default(null),
  ...replayCountsSchema.shape,
});
export type ReplayRecord = z.infer<typeof replayRecordSchema>;

/** Data of the `replay.run` job: one per replay; the record holds its progress. */
export const replayRunJobSchema = z.object({ replay_id: z.string().min(1) });
export type ReplayRunJob = z.infer<typeof replayRunJobSchema>;

const timeBound = z.union([z.string().trim().max(40), z.number().int()]).optional();

/** `POST /api/replays` (and the CLI): the filter as an operator writes it, resolved by `resolveReplayRequest`. */
export const replayRequestSchema = z
  .object({
    filter: z
      .object({
        /** Checked by resolveReplayRequest (a clear `invalid_status`). */
        status: z.string().max(40).default('dead_lettered'),
        /** A target URL or its id (`tgt_…`). */
        target: z.string().trim().max(2_000).optional(),
        /** A routing rule's id or name. */
        rule: z.string().trim().max(200).optional(),
        /** ISO date (`2026-11-30`, the whole day for `until`), ISO date-time or epoch ms. */
        since: timeBound,
        until: timeBound,
        query: z.string().max(500).optional(),
      })
      .strict()
      .default({ status: 'dead_lettered' }),
    payload: z.enum(REPLAY_PAYLOADS).default('original'),
    rate_per_s: z.number().default(10),
    dry_run: z.boolean().default(false),
  })
  .strict();
export type ReplayRequest = z.infer<typeof replayRequestSchema>;
