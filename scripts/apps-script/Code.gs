/**
 * Render Signal — Gmail → ingress relay (Google Apps Script, V8 runtime).
 *
 * How it works
 *   1. A Gmail filter puts the queue label (default A_TRANSFERER_WEBHOOK) on the threads to forward.
 *   2. Every 5 minutes (TRIGGER_EVERY_MINUTES), processQueue() POSTs each message of each labelled thread
 *      to the Render Signal ingress (POST /api/ingress/gmail). The ingress deduplicates on the Gmail message id, so sending a
 *      message twice is harmless: that is what makes "retry until 200" safe.
 *   3. A thread loses the queue label only once every one of its messages was accepted (HTTP 200).
 *      When the ingress is unreachable or answers an error, the thread keeps the queue label (retried on
 *      the next run) and also gets the error label so you can see it in Gmail.
 *   Unread/read state is never read nor changed.
 *
 * Setup (see docs/gmail-setup.md)
 *   Project Settings → Script Properties:
 *     INGRESS_URL    https://<your-service>.onrender.com/api/ingress/gmail   (required)
 *     INGRESS_TOKEN  one of the server's PROCESS_API_TOKEN values             (required)
 *   Optional: QUEUE_LABEL, ERROR_LABEL, BATCH_SIZE (threads per page, default 10),
 *     TIME_BUDGET_SECONDS (default 270, at most 290), SEND_OWN_MESSAGES ("true" to also send your own replies),
 *     TRIGGER_EVERY_MINUTES (1, 5, 10, 15 or 30; default 5; rerun setup() after changing it; 1 suits
 *       Google Workspace accounts, whose trigger runtime quota is 6 h a day instead of 90 min),
 *     ALLOW_INSECURE_HTTP ("true" to allow an http:// INGRESS_URL; for local testing only).
 *   Then run setup() once from the editor and accept the permissions.
 */

var DEFAULTS = {
  QUEUE_LABEL: 'A_TRANSFERER_WEBHOOK',
  BATCH_SIZE: 10,
  // Apps Script kills an execution at 6 minutes. A UrlFetch call in flight can itself take up to about a
  // minute, so new work stops after 4.5 minutes, and never later than MAX_TIME_BUDGET_SECONDS.
  TIME_BUDGET_SECONDS: 270,
  // 290 s + one slow UrlFetch (about 60 s) still ends before the 360 s limit.
  MAX_TIME_BUDGET_SECONDS: 290,
  // gmail.com accounts get 90 minutes of trigger runtime a day. Every minute, 1,440 idle runs of 0.5-2 s
  // would spend 12-48 of them before any email is sent; every 5 minutes, 288 runs spend 2.5-10.
  TRIGGER_EVERY_MINUTES: 5,
};

/** The ingress answers 200 with one of these statuses when it has taken the message in charge. */
var ACCEPTED_STATUS = /^(queued|already_processing|already_processed|skipped(_[a-z_]+)?)$/;

/** Answers that will never change for the same message: retrying them would only burn the UrlFetch quota. */
var PERMANENT_REJECTIONS = { 400: true, 413: true, 415: true, 422: true };

var HANDLER = 'processQueue';
/** The periods ClockTriggerBuilder.everyMinutes accepts. */
var TRIGGER_PERIODS = [1, 5, 10, 15, 30];
var SNIPPET_LENGTH = 200;

// ---------------------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------------------

/**
 * Run once by hand: checks the properties, creates the labels and installs the time-driven trigger
 * (every TRIGGER_EVERY_MINUTES, default 5).
 * Safe to run again: it leaves exactly one trigger for processQueue.
 */
function setup() {
  var config = readConfig_();
  getOrCreateLabel_(config.queueLabel);
  getOrCreateLabel_(config.errorLabel);

  var triggers = ScriptApp.getProjectTriggers();
  for (var i = 0; i < triggers.length; i++) {
    if (triggers[i].getHandlerFunction() === HANDLER) ScriptApp.deleteTrigger(triggers[i]);
  }
  ScriptApp.newTrigger(HANDLER).timeBased().everyMinutes(config.everyMinutes).create();

  console.log(
    'Render Signal relay ready: threads labelled "' +
      config.queueLabel +
      '" are sent to ' +
      config.url +
      ' every ' +
      config.everyMinutes +
      ' minute(s). Add a Gmail filter that applies this label.',
  );
  return { queueLabel: config.queueLabel, errorLabel: config.errorLabel, url: config.url, everyMinutes: config.everyMinutes };
}

/** Removes the trigger installed by setup(). Labels are left as they are. */
function uninstall() {
  var triggers = ScriptApp.getProjectTriggers();
  var removed = 0;
  for (var i = 0; i < triggers.length; i++) {
    if (triggers[i].getHandlerFunction() === HANDLER) {
      ScriptApp.deleteTrigger(triggers[i]);
      removed++;
    }
  }
  console.log('Removed ' + removed + ' trigger(s).');
  return removed;
}

/**
 * Checks the URL and token without sending an email: an empty payload must be refused with 400
 * (token accepted, payload invalid). 401 means a wrong token, anything else a wrong URL.
 */
function testConnection() {
  var config = readConfig_();
  var response = UrlFetchApp.fetch(config.url, requestOptions_(config, {}));
  var code = response.getResponseCode();
  var verdict =
    code === 400
      ? 'OK: the ingress answered and accepted the token.'
      : code === 401
        ? 'WRONG TOKEN: INGRESS_TOKEN is not one of the server PROCESS_API_TOKEN values.'
        : 'UNEXPECTED: HTTP ' + code + ' (check INGRESS_URL, it must end with /api/ingress/gmail).';
  console.log(verdict);
  return { code: code, ok: code === 400, message: verdict };
}

/** The trigger handler: sends the labelled threads until the queue is empty or the time budget is spent. */
function processQueue() {
  var startedAt = Date.now();
  var config = readConfig_();
  var lock = LockService.getScriptLock();
  // A run can outlast the trigger period: the next one then has nothing to do but step aside.
  if (!lock.tryLock(1000)) {
    console.log('Another run is still in progress; skipping this one.');
    return { skipped: 'locked' };
  }
  try {
    return drainQueue_(config, startedAt);
  } finally {
    lock.releaseLock();
  }
}

// ---------------------------------------------------------------------------------------------------
// Queue processing
// ---------------------------------------------------------------------------------------------------

function drainQueue_(config, startedAt) {
  var summary = { threads: 0, sent: 0, accepted: 0, parked: 0, failed: 0, stopped: null };
  var queueLabel = GmailApp.getUserLabelByName(config.queueLabel);
  if (!queueLabel) {
    console.warn('Label "' + config.queueLabel + '" does not exist: run setup().');
    summary.stopped = 'no_label';
    return summary;
  }
  var errorLabel = null; // looked up only when needed: an idle run costs one label and one thread lookup
  var ownAddresses = null;
  var deadline = startedAt + config.timeBudgetMs;
  var seen = {};
  var start = 0;

  while (!summary.stopped) {
    var threads = queueLabel.getThreads(start, config.batchSize);
    if (threads.length === 0) break;
    if (!errorLabel) errorLabel = getOrCreateLabel_(config.errorLabel);
    if (!ownAddresses) ownAddresses = config.sendOwnMessages ? {} : ownAddresses_();
    var fresh = 0;
    for (var i = 0; i < threads.length && !summary.stopped; i++) {
      var thread = threads[i];
      var threadId = thread.getId();
      if (seen[threadId]) {
        // Still listed (Gmail's index can lag behind a label change, or we kept it): move past it.
        start++;
        continue;
      }
      seen[threadId] = true;
      fresh++;
      var outcome = sendThread_(thread, config, ownAddresses, deadline, summary);
      summary.threads++;
      if (outcome === 'done') {
        queueLabel.removeFromThread(thread);
        errorLabel.removeFromThread(thread);
      } else if (outcome === 'parked') {
        // Refused for good: taken out of the queue (retrying cannot help), flagged for a human.
        queueLabel.removeFromThread(thread);
        errorLabel.addToThread(thread);
        summary.parked++;
      } else if (outcome === 'retry') {
        // Keeps the queue label: the next run sends it again.
        errorLabel.addToThread(thread);
        summary.failed++;
        start++;
      } else {
        // 'timeout': out of time before finishing the thread; it keeps its label for the next run.
        start++;
      }
    }
    if (fresh === 0) break;
  }

  console.log(
    'Run finished: ' +
      summary.threads +
      ' thread(s), ' +
      summary.sent +
      ' message(s) sent, ' +
      summary.accepted +
      ' accepted, ' +
      summary.parked +
      ' thread(s) parked, ' +
      summary.failed +
      ' thread(s) to retry' +
      (summary.stopped ? ' (stopped: ' + summary.stopped + ')' : '') +
      '.',
  );
  return summary;
}

/**
 * Sends every message of a thread. Returns 'done' (all accepted), 'parked' (one was refused for good,
 * the others accepted), 'retry' (one was not accepted) or 'timeout'.
 */
function sendThread_(thread, config, ownAddresses, deadline, summary) {
  var messages = thread.getMessages();
  var labels = threadLabels_(thread, config);
  var refused = false;
  for (var i = 0; i < messages.length; i++) {
    var message = messages[i];
    if (message.isDraft() || message.isInTrash()) continue;
    if (ownAddresses[senderAddress_(message.getFrom())]) continue;
    if (Date.now() >= deadline) {
      summary.stopped = 'time_budget';
      return 'timeout';
    }
    var payload = buildPayload_(message, thread, labels);
    var result = post_(config, payload);
    summary.sent++;
    if (result.kind === 'accepted') {
      summary.accepted++;
    } else if (result.kind === 'refused') {
      refused = true;
      console.warn('Message ' + payload.message_id + ' refused for good: ' + result.detail);
    } else {
      console.warn('Message ' + payload.message_id + ' not accepted, will retry: ' + result.detail);
      // Down, overloaded, misconfigured (401/404) or answering garbage: every other message would fail
      // the same way, so the run stops and the next one retries. A plain 500 may be about this message
      // only: the other threads still get their chance.
      if (result.stopRun) summary.stopped = 'ingress_unavailable';
      return 'retry';
    }
  }
  return refused ? 'parked' : 'done';
}

/** The ingress payload (the server's ingress contract). */
function buildPayload_(message, thread, labels) {
  var plain = message.getPlainBody() || '';
  var html = message.getBody() || '';
  var payload = {
    subject: message.getSubject() || '',
    sender: message.getFrom() || '',
    date: message.getDate().toISOString(),
    // The ingress requires a non-empty body; an attachment-only email has none, a blank stands for it.
    body: html || plain || ' ',
    snippet: plain.slice(0, SNIPPET_LENGTH),
    message_id: message.getId(),
    thread_id: thread.getId(),
    to: message.getTo() || '',
    cc: message.getCc() || '',
    labels: labels,
  };
  var rfcId = message.getHeader('Message-ID');
  if (rfcId) payload.rfc_message_id = rfcId;
  return payload;
}

function post_(config, payload) {
  var response;
  try {
    response = UrlFetchApp.fetch(config.url, requestOptions_(config, payload));
  } catch (error) {
    // DNS failure, connection refused, timeout: UrlFetchApp throws even with muteHttpExceptions.
    return { kind: 'failed', stopRun: true, detail: String(error && error.message ? error.message : error) };
  }
  var code = response.getResponseCode();
  var text = response.getContentText();
  if (code === 200) {
    var body = parseJson_(text);
    if (body && (body.success === true || ACCEPTED_STATUS.test(String(body.status)))) return { kind: 'accepted', status: body.status };
    // A 200 that is not the ingress's answer (a proxy or login page): not a proof of delivery.
    return { kind: 'failed', stopRun: true, detail: 'HTTP 200 without an ingress answer: ' + text.slice(0, 200) };
  }
  var detail = 'HTTP ' + code + ' ' + text.slice(0, 300);
  if (PERMANENT_REJECTIONS[code]) return { kind: 'refused', detail: detail };
  return { kind: 'failed', stopRun: code !== 500, detail: detail };
}

function requestOptions_(config, payload) {
  return {
    method: 'post',
    contentType: 'application/json',
    payload: JSON.stringify(payload),
    headers: { Authorization: 'Bearer ' + config.token, 'X-Source': 'GoogleAppsScript' },
    muteHttpExceptions: true,
    followRedirects: false,
  };
}

// ---------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------

function readConfig_() {
  var props = PropertiesService.getScriptProperties();
  var url = (props.getProperty('INGRESS_URL') || '').trim();
  var token = (props.getProperty('INGRESS_TOKEN') || '').trim();
  if (!url || !token) {
    throw new Error('Set the Script Properties INGRESS_URL and INGRESS_TOKEN (Project Settings → Script Properties).');
  }
  var insecureAllowed = (props.getProperty('ALLOW_INSECURE_HTTP') || '').toLowerCase() === 'true';
  if (!/^https:\/\//i.test(url) && !(insecureAllowed && /^http:\/\//i.test(url))) {
    throw new Error('INGRESS_URL must start with https:// (the token would travel in clear otherwise).');
  }
  var queueLabel = (props.getProperty('QUEUE_LABEL') || '').trim() || DEFAULTS.QUEUE_LABEL;
  var everyMinutes = parseInt(props.getProperty('TRIGGER_EVERY_MINUTES') || String(DEFAULTS.TRIGGER_EVERY_MINUTES), 10);
  if (TRIGGER_PERIODS.indexOf(everyMinutes) < 0) {
    throw new Error('TRIGGER_EVERY_MINUTES must be one of ' + TRIGGER_PERIODS.join(', ') + ' (what Apps Script allows).');
  }
  return {
    url: url,
    token: token,
    queueLabel: queueLabel,
    errorLabel: (props.getProperty('ERROR_LABEL') || '').trim() || queueLabel + '/ERREUR',
    batchSize: positiveInt_(props.getProperty('BATCH_SIZE'), DEFAULTS.BATCH_SIZE, 100),
    timeBudgetMs:
      positiveInt_(props.getProperty('TIME_BUDGET_SECONDS'), DEFAULTS.TIME_BUDGET_SECONDS, DEFAULTS.MAX_TIME_BUDGET_SECONDS) * 1000,
    sendOwnMessages: (props.getProperty('SEND_OWN_MESSAGES') || '').toLowerCase() === 'true',
    everyMinutes: everyMinutes,
  };
}

function positiveInt_(raw, fallback, max) {
  var n = parseInt(raw, 10);
  if (!(n > 0)) return fallback;
  return Math.min(n, max);
}

function getOrCreateLabel_(name) {
  return GmailApp.getUserLabelByName(name) || GmailApp.createLabel(name);
}

/** The thread's labels, minus this relay's own (they describe the transfer, not the email). */
function threadLabels_(thread, config) {
  var names = [];
  var labels = thread.getLabels();
  for (var i = 0; i < labels.length; i++) {
    var name = labels[i].getName();
    if (name !== config.queueLabel && name !== config.errorLabel) names.push(name);
  }
  return names;
}

/** The account's own addresses (primary and send-as aliases), lower-cased, to skip your own replies. */
function ownAddresses_() {
  var own = {};
  var me = Session.getEffectiveUser().getEmail();
  if (me) own[me.toLowerCase()] = true;
  var aliases = GmailApp.getAliases();
  for (var i = 0; i < aliases.length; i++) own[String(aliases[i]).toLowerCase()] = true;
  return own;
}

/** "Jane Doe <jane@x.io>" → "jane@x.io". */
function senderAddress_(from) {
  var match = /<([^>]+)>/.exec(from || '');
  return (match ? match[1] : from || '').trim().toLowerCase();
}

function parseJson_(text) {
  try {
    var value = JSON.parse(text);
    return value !== null && typeof value === 'object' ? value : null;
  } catch (e) {
    return null;
  }
}
