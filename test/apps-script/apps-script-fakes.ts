import { createContext, runInContext } from 'node:vm';

/**
 * In-memory fakes of the Apps Script services Code.gs uses, following Google's reference
 * (developers.google.com/apps-script/reference): same method names, return types, nulls and throws.
 * The mailbox and project state are plain JSON so a run can happen in another process (see
 * apps-script-process.ts) and hand the state back.
 */

export interface MessageData {
  id: string;
  subject: string;
  from: string;
  to?: string;
  cc?: string;
  /** ISO date. */
  date: string;
  html: string;
  plain: string;
  headers?: Record<string, string>;
  unread?: boolean;
  draft?: boolean;
  trashed?: boolean;
}

export interface ThreadData {
  id: string;
  labels: string[];
  messages: MessageData[];
}

export interface MailboxData {
  account: string;
  aliases: string[];
  labels: string[];
  threads: ThreadData[];
}

export interface TriggerData {
  id: string;
  handler: string;
  everyMinutes: number;
}

export interface ScriptData {
  properties: Record<string, string>;
  triggers: TriggerData[];
  /** Another execution holds the script lock (an overlapping run). */
  lockHeldElsewhere?: boolean;
}

export interface AppsScriptState {
  mailbox: MailboxData;
  script: ScriptData;
}

export interface HttpRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
  followRedirects: boolean;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Performs one HTTP request synchronously (Apps Script code is synchronous); throws on a network error. */
export type HttpTransport = (request: HttpRequest) => HttpResponse;

export interface FetchRecord {
  url: string;
  method: string;
  headers: Record<string, string>;
  payload?: string;
  status?: number;
  body?: string;
  error?: string;
}

export interface RunResult {
  returned: unknown;
  /** Message of the exception the function ended with, if any. */
  error?: string;
  state: AppsScriptState;
  fetches: FetchRecord[];
  logs: string[];
  /** Times the script lock was acquired and released. */
  lock: { acquired: number; released: number };
}

export interface RunOptions {
  transport: HttpTransport;
  /** Replaces Date.now inside the script (time-budget tests). */
  now?: () => number;
}

const TRIGGER_MINUTES = new Set([1, 5, 10, 15, 30]);
/** Apps Script allows 20 triggers per user per script. */
const MAX_TRIGGERS = 20;

/** Runs `fn` of the Apps Script source against a copy of `state`; returns the new state and what happened. */
export function runAppsScript(code: string, initial: AppsScriptState, fn: string, options: RunOptions): RunResult {
  const state = JSON.parse(JSON.stringify(initial)) as AppsScriptState;
  const fetches: FetchRecord[] = [];
  const logs: string[] = [];
  const lock = { acquired: 0, released: 0 };
  const services = {
    GmailApp: createGmailApp(state.mailbox),
    UrlFetchApp: createUrlFetchApp(options.transport, fetches),
    PropertiesService: createPropertiesService(state.script),
    ScriptApp: createScriptApp(state.script),
    LockService: createLockService(state.script, lock),
    Session: createSession(state.mailbox),
    Utilities: {
      sleep(ms: number) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
      },
    },
    Logger: {
      log(...args: unknown[]) {
        logs.push(`INFO ${args.map(String).join(' ')}`);
      },
    },
    console: {
      log: (...args: unknown[]) => logs.push(`INFO ${args.map(String).join(' ')}`),
      info: (...args: unknown[]) => logs.push(`INFO ${args.map(String).join(' ')}`),
      warn: (...args: unknown[]) => logs.push(`WARN ${args.map(String).join(' ')}`),
      error: (...args: unknown[]) => logs.push(`ERROR ${args.map(String).join(' ')}`),
    },
  };
  const context = createContext({ ...services, __rsNow: options.now });
  if (options.now) runInContext('Date.now = function () { return __rsNow(); };', context);
  runInContext(code, context, { filename: 'Code.gs' });
  const entry = (context as Record<string, unknown>)[fn];
  if (typeof entry !== 'function') throw new Error(`Code.gs has no function ${fn}`);
  let returned: unknown;
  let error: string | undefined;
  try {
    returned = JSON.parse(JSON.stringify((entry as () => unknown)() ?? null)) as unknown;
  } catch (thrown) {
    error = thrown instanceof Object && 'message' in thrown ? String(thrown.message) : String(thrown);
  }
  return { returned, error, state, fetches, logs, lock };
}

// ---------------------------------------------------------------------------------------------------
// GmailApp
// ---------------------------------------------------------------------------------------------------

function createGmailApp(mailbox: MailboxData) {
  const labelObject = (name: string) => ({
    getName: () => name,
    /** Threads carrying the label, most recent activity first (as Gmail lists them). */
    getThreads(start = 0, max = 500) {
      if (max > 500) throw new Error('Invalid argument: max');
      return mailbox.threads
        .filter((t) => t.labels.includes(name))
        .sort((a, b) => lastDate(b) - lastDate(a))
        .slice(start, start + max)
        .map((t) => threadObject(t));
    },
    addToThread(thread: { getId(): string }) {
      const data = findThread(thread.getId());
      if (!data.labels.includes(name)) data.labels.push(name);
      return labelObject(name);
    },
    removeFromThread(thread: { getId(): string }) {
      const data = findThread(thread.getId());
      data.labels = data.labels.filter((l) => l !== name);
      return labelObject(name);
    },
  });

  const findThread = (id: string): ThreadData => {
    const thread = mailbox.threads.find((t) => t.id === id);
    if (!thread) throw new Error(`Thread not found: ${id}`);
    return thread;
  };

  const messageObject = (m: MessageData, thread: ThreadData) => ({
    getId: () => m.id,
    getSubject: () => m.subject,
    getFrom: () => m.from,
    getTo: () => m.to ?? '',
    getCc: () => m.cc ?? '',
    getDate: () => new Date(m.date),
    getBody: () => m.html,
    getPlainBody: () => m.plain,
    /** The header value, or an empty string when the message has no such header. */
    getHeader: (name: string) => {
      const key = Object.keys(m.headers ?? {}).find((k) => k.toLowerCase() === name.toLowerCase());
      return key === undefined ? '' : (m.headers?.[key] ?? '');
    },
    isDraft: () => m.draft === true,
    isInTrash: () => m.trashed === true,
    isUnread: () => m.unread === true,
    getThread: () => threadObject(thread),
  });

  const threadObject = (t: ThreadData) => {
    const self = {
      getId: () => t.id,
      getMessages: () => t.messages.map((m) => messageObject(m, t)),
      getMessageCount: () => t.messages.length,
      getFirstMessageSubject: () => t.messages[0]?.subject ?? '',
      getLastMessageDate: () => new Date(lastDate(t)),
      getLabels: () => t.labels.map((name) => labelObject(name)),
      addLabel(label: { getName(): string }) {
        if (!t.labels.includes(label.getName())) t.labels.push(label.getName());
        return self;
      },
      removeLabel(label: { getName(): string }) {
        t.labels = t.labels.filter((l) => l !== label.getName());
        return self;
      },
    };
    return self;
  };

  return {
    /** The label, or null when the user has no label of that name. */
    getUserLabelByName: (name: string) => (mailbox.labels.includes(name) ? labelObject(name) : null),
    createLabel(name: string) {
      if (!mailbox.labels.includes(name)) mailbox.labels.push(name);
      return labelObject(name);
    },
    getUserLabels: () => mailbox.labels.map((name) => labelObject(name)),
    getAliases: () => [...mailbox.aliases],
  };
}

function lastDate(thread: ThreadData): number {
  return Math.max(0, ...thread.messages.map((m) => Date.parse(m.date)));
}

// ---------------------------------------------------------------------------------------------------
// UrlFetchApp
// ---------------------------------------------------------------------------------------------------

interface FetchParams {
  method?: string;
  contentType?: string;
  payload?: string | Record<string, string>;
  headers?: Record<string, string>;
  muteHttpExceptions?: boolean;
  followRedirects?: boolean;
}

function createUrlFetchApp(transport: HttpTransport, fetches: FetchRecord[]) {
  return {
    fetch(url: string, params: FetchParams = {}) {
      if (typeof url !== 'string' || !/^https?:\/\//i.test(url)) throw new Error(`Invalid argument: ${String(url)}`);
      const method = (params.method ?? 'get').toUpperCase();
      const headers: Record<string, string> = { ...(params.headers ?? {}) };
      let body: string | undefined;
      if (params.payload !== undefined) {
        body = typeof params.payload === 'string' ? params.payload : new URLSearchParams(params.payload).toString();
        // Google: contentType defaults to application/x-www-form-urlencoded.
        headers['Content-Type'] = params.contentType ?? 'application/x-www-form-urlencoded';
      }
      const record: FetchRecord = { url, method, headers, payload: body };
      fetches.push(record);
      let response: HttpResponse;
      try {
        response = transport({ url, method, headers, body, followRedirects: params.followRedirects ?? true });
      } catch (error) {
        record.error = (error as Error).message;
        // What Apps Script throws for a connection failure, whatever muteHttpExceptions says.
        throw new Error(`Address unavailable: ${url}`);
      }
      record.status = response.status;
      record.body = response.body;
      if (response.status >= 400 && params.muteHttpExceptions !== true) {
        throw new Error(
          `Request failed for ${url} returned code ${response.status}. Truncated server response: ${response.body.slice(0, 100)} (use muteHttpExceptions option to examine full response)`,
        );
      }
      return {
        getResponseCode: () => response.status,
        getContentText: () => response.body,
        getHeaders: () => ({ ...response.headers }),
        getAllHeaders: () => ({ ...response.headers }),
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// PropertiesService, ScriptApp, LockService, Session
// ---------------------------------------------------------------------------------------------------

function createPropertiesService(script: ScriptData) {
  const store = {
    /** The value, or null when the key is not set. */
    getProperty: (key: string) => (Object.prototype.hasOwnProperty.call(script.properties, key) ? (script.properties[key] ?? null) : null),
    setProperty(key: string, value: string) {
      script.properties[key] = String(value);
      return store;
    },
    deleteProperty(key: string) {
      delete script.properties[key];
      return store;
    },
    getProperties: () => ({ ...script.properties }),
  };
  return { getScriptProperties: () => store };
}

function createScriptApp(script: ScriptData) {
  const EventType = { CLOCK: 'CLOCK' };
  let counter = script.triggers.length;
  const triggerObject = (t: TriggerData) => ({
    getHandlerFunction: () => t.handler,
    getUniqueId: () => t.id,
    getEventType: () => EventType.CLOCK,
  });
  return {
    EventType,
    getProjectTriggers: () => script.triggers.map(triggerObject),
    deleteTrigger(trigger: { getUniqueId(): string }) {
      script.triggers = script.triggers.filter((t) => t.id !== trigger.getUniqueId());
    },
    newTrigger(handler: string) {
      return {
        timeBased() {
          let minutes: number | undefined;
          const builder = {
            everyMinutes(n: number) {
              if (!TRIGGER_MINUTES.has(n)) throw new Error('Invalid argument: minutes (must be 1, 5, 10, 15 or 30)');
              minutes = n;
              return builder;
            },
            create() {
              if (minutes === undefined) throw new Error('The trigger has no schedule');
              if (script.triggers.length >= MAX_TRIGGERS) throw new Error('This script has too many triggers.');
              counter += 1;
              const data: TriggerData = { id: `trigger-${counter}-${Date.now()}`, handler, everyMinutes: minutes };
              script.triggers.push(data);
              return triggerObject(data);
            },
          };
          return builder;
        },
      };
    },
  };
}

function createLockService(script: ScriptData, counts: { acquired: number; released: number }) {
  return {
    getScriptLock() {
      let held = false;
      return {
        /** True when acquired; false when another execution holds it (this fake does not wait). */
        tryLock(_timeoutMs: number) {
          if (script.lockHeldElsewhere) return false;
          held = true;
          counts.acquired += 1;
          return true;
        },
        waitLock(timeoutMs: number) {
          if (script.lockHeldElsewhere)
            throw new Error(`Lock timeout: another process was holding the lock for too long (${timeoutMs} ms).`);
          held = true;
          counts.acquired += 1;
        },
        releaseLock() {
          if (held) counts.released += 1;
          held = false;
        },
        hasLock: () => held,
      };
    },
  };
}

function createSession(mailbox: MailboxData) {
  const user = { getEmail: () => mailbox.account };
  return { getEffectiveUser: () => user, getActiveUser: () => user };
}
