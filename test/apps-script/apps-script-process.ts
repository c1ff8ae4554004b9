// Runs one Apps Script function in this process, with UrlFetchApp doing real (blocking) HTTP.
// It is a separate process because a blocking call in the test process would freeze the ingress
// server that the test runs in that same process. stdin: RunRequest JSON; stdout: RunResult JSON.
import { readFileSync } from 'node:fs';
import { runAppsScript, type AppsScriptState } from './apps-script-fakes';
import { syncHttpRequest } from './sync-http';

export interface RunRequest {
  codePath: string;
  state: AppsScriptState;
  fn: string;
}

const request = JSON.parse(readFileSync(0, 'utf8')) as RunRequest;
const result = runAppsScript(readFileSync(request.codePath, 'utf8'), request.state, request.fn, { transport: (r) => syncHttpRequest(r) });
process.stdout.write(JSON.stringify(result));
