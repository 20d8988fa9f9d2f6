// The Node tests' handle on the one Runtime API of the end-to-end tests, runtime_api.py (the
// Python tests use it in-process): `python3 runtime_api.py --serve` runs as a child process that
// serves the Runtime API on 127.0.0.1 and speaks JSON lines with this class (commands on its
// stdin, what happens on its stdout; see serve() in runtime_api.py). The record log's size at each
// result is measured there, when the result arrives, exactly as for the Python tests.
//
// The Python interpreter: LANEPOOL_E2E_PYTHON if set, else python3 (the server needs only the
// standard library).
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const SERVER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'runtime_api.py');

export class RuntimeApi {
  constructor({ logPath = null, timeoutMs = 60_000, maxConcurrency = null } = {}) {
    this.logPath = logPath;
    this.timeoutMs = timeoutMs;
    this.maxConcurrency = maxConcurrency;
    this.results = new Map(); // request id -> {requestId, kind, body, headers, logOffset, timeMs}
    this.deadlinesMs = new Map(); // request id -> the Lambda-Runtime-Deadline-Ms sent
    this.handedOut = []; // request ids, in the order GET /next handed them out
    this.initErrors = [];
    this.polls = 0; // GET /next requests received so far
    this.peakInFlight = 0; // the most invocations out (handed out, no result yet) at once
    this.listeners = new Set();
    this.stderr = [];
    this.exited = false;
  }

  async start() {
    const args = [SERVER, '--serve', '--timeout-ms', String(this.timeoutMs)];
    if (this.logPath) args.push('--log', this.logPath);
    if (this.maxConcurrency) args.push('--max-concurrency', String(this.maxConcurrency));
    this.proc = spawn(process.env.LANEPOOL_E2E_PYTHON || 'python3', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stderr.on('data', (c) => this.stderr.push(c));
    this.proc.stdin.on('error', () => {}); // a server that died is reported by wait()
    const ready = new Promise((resolve, reject) => {
      this.proc.once('error', reject);
      this.proc.once('exit', (code, sig) => {
        this.exited = true;
        reject(new Error(`runtime_api.py exited (code ${code}, signal ${sig}) before it was ready: ${this.#stderr()}`));
        this.#changed();
      });
      readline.createInterface({ input: this.proc.stdout }).on('line', (line) => {
        const msg = JSON.parse(line);
        if (msg.type === 'ready') {
          this.address = msg.address;
          resolve();
        } else this.#record(msg);
        this.#changed();
      });
    });
    await ready;
    return this;
  }

  #stderr() {
    return Buffer.concat(this.stderr).toString().slice(-2000);
  }

  #record(msg) {
    switch (msg.type) {
      case 'poll':
        this.polls = Math.max(this.polls, msg.polls);
        break;
      case 'handed_out':
        this.handedOut.push(msg.request_id);
        this.deadlinesMs.set(msg.request_id, msg.deadline_ms);
        this.peakInFlight = Math.max(this.peakInFlight, msg.in_flight);
        break;
      case 'result':
        this.results.set(msg.request_id, {
          requestId: msg.request_id,
          kind: msg.kind,
          body: msg.body,
          headers: msg.headers,
          logOffset: msg.log_offset,
          timeMs: msg.time_ms,
        });
        break;
      case 'init_error':
        this.initErrors.push(msg.body);
        break;
      default:
        throw new Error(`runtime_api.py: unknown message ${JSON.stringify(msg).slice(0, 200)}`);
    }
  }

  #changed() {
    for (const fn of [...this.listeners]) fn();
  }

  /** Queues an event for the next GET /next; returns its request id. The deadline sent is
   *  timeoutMs (default: the server's) after the event is handed out. */
  invoke(event, timeoutMs = undefined) {
    const requestId = randomUUID();
    this.proc.stdin.write(JSON.stringify({ invoke: { request_id: requestId, event, timeout_ms: timeoutMs ?? null } }) + '\n');
    return requestId;
  }

  /** Resolves when predicate() holds; rejects on timeout, an init error, when alive() is false, or
   *  when the server is gone. */
  wait(predicate, { timeoutMs = 60_000, what = 'a condition', alive = () => true } = {}) {
    return new Promise((resolve, reject) => {
      let timer;
      let poll;
      const check = () => {
        let failure = null;
        if (predicate()) failure = false;
        else if (this.initErrors.length) failure = new Error(`init error posted while waiting for ${what}: ${JSON.stringify(this.initErrors)}`);
        else if (!alive()) failure = new Error(`runtime process exited while waiting for ${what}`);
        else if (this.exited) failure = new Error(`runtime_api.py exited while waiting for ${what}: ${this.#stderr()}`);
        if (failure === null) return;
        clearTimeout(timer);
        clearInterval(poll);
        this.listeners.delete(check);
        if (failure) reject(failure);
        else resolve();
      };
      timer = setTimeout(() => {
        clearInterval(poll);
        this.listeners.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      poll = setInterval(check, 100); // notices a dead child
      this.listeners.add(check);
      check();
    });
  }

  async waitResult(requestId, opts = {}) {
    await this.wait(() => this.results.has(requestId), { what: `the result of ${requestId}`, ...opts });
    return this.results.get(requestId);
  }

  /** Waits until `count` GET /next requests have arrived (the runtime is idle, asking for work). */
  waitPolls(count, opts = {}) {
    return this.wait(() => this.polls >= count, { what: `GET /next number ${count}`, ...opts });
  }

  /** Stops the server (end of its input) and waits for it to exit. */
  async close() {
    if (this.exited || !this.proc) return;
    const gone = new Promise((resolve) => this.proc.once('exit', resolve));
    this.proc.stdin.end();
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  }
}
