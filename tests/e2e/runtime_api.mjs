// A small AWS Lambda Runtime API (2018-06-01) served on 127.0.0.1 for the Node end-to-end test;
// the same endpoints and behaviour as runtime_api.py (the Python test's):
//
//   GET  /2018-06-01/runtime/invocation/next          waits for invoke(event), then hands it out with
//        Lambda-Runtime-Aws-Request-Id, -Deadline-Ms, -Invoked-Function-Arn, -Trace-Id
//   POST /2018-06-01/runtime/invocation/{id}/response  and /error: the invocation's result
//   POST /2018-06-01/runtime/init/error
//
// Each result is stored with the size of the example's record log (LANEPOOL_EXAMPLE_LOG) when it
// arrived, so the test can tell which log lines were written after the response was posted.
import { randomUUID, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';

const PREFIX = '/2018-06-01/runtime';
export const FUNCTION_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:lanepool-example';

export class RuntimeApi {
  constructor({ logPath = null, timeoutMs = 60_000 } = {}) {
    this.logPath = logPath;
    this.timeoutMs = timeoutMs;
    this.results = new Map();
    this.deadlinesMs = new Map(); // request id -> the Lambda-Runtime-Deadline-Ms sent
    this.initErrors = [];
    this.polls = 0;
    this.queue = []; // invocations not yet handed out
    this.waiting = []; // GET /next responses not yet answered
    this.listeners = new Set();
    this.server = http.createServer((req, res) => this.#route(req, res));
    this.server.keepAliveTimeout = 0;
  }

  async start() {
    await new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const { address, port } = this.server.address();
    this.address = `${address}:${port}`;
    return this;
  }

  #changed() {
    for (const fn of [...this.listeners]) fn();
  }

  #handOut() {
    while (this.queue.length && this.waiting.length) {
      const res = this.waiting.shift();
      if (res.destroyed) continue;
      const { requestId, event, timeoutMs } = this.queue.shift();
      const deadlineMs = Date.now() + (timeoutMs ?? this.timeoutMs);
      this.deadlinesMs.set(requestId, deadlineMs);
      const body = JSON.stringify(event);
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(body),
        'Lambda-Runtime-Aws-Request-Id': requestId,
        'Lambda-Runtime-Deadline-Ms': String(deadlineMs),
        'Lambda-Runtime-Invoked-Function-Arn': FUNCTION_ARN,
        'Lambda-Runtime-Trace-Id': `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomBytes(12).toString('hex')};Parent=${randomBytes(8).toString('hex')};Sampled=0`,
      });
      res.end(body);
    }
  }

  #route(req, res) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const reply = (code, obj) => {
        const body = JSON.stringify(obj);
        res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
      };
      if (req.method === 'GET' && req.url === `${PREFIX}/invocation/next`) {
        this.polls += 1;
        this.waiting.push(res);
        this.#handOut();
        this.#changed();
        return;
      }
      if (req.method !== 'POST' || !req.url.startsWith(PREFIX + '/')) return reply(404, { errorMessage: 'not found' });
      const logOffset = this.logPath && fs.existsSync(this.logPath) ? fs.statSync(this.logPath).size : 0;
      const raw = Buffer.concat(chunks).toString();
      let body;
      try {
        body = raw ? JSON.parse(raw) : null;
      } catch {
        body = raw;
      }
      const parts = req.url.slice(PREFIX.length + 1).split('/');
      if (parts.length === 2 && parts[0] === 'init' && parts[1] === 'error') {
        this.initErrors.push(body);
        this.#changed();
        return reply(202, { status: 'OK' });
      }
      if (parts.length === 3 && parts[0] === 'invocation' && (parts[2] === 'response' || parts[2] === 'error')) {
        if (this.results.has(parts[1])) return reply(400, { errorMessage: 'result already posted' });
        this.results.set(parts[1], { requestId: parts[1], kind: parts[2], body, headers: req.headers, logOffset, timeMs: Date.now() });
        this.#changed();
        return reply(202, { status: 'OK' });
      }
      reply(404, { errorMessage: 'not found' });
    });
  }

  /** Queues an event for the next GET /next; returns its request id. The deadline sent is
   *  timeoutMs (default: the server's) after the event is handed out. */
  invoke(event, timeoutMs = undefined) {
    const requestId = randomUUID();
    this.queue.push({ requestId, event, timeoutMs });
    this.#handOut();
    return requestId;
  }

  /** Resolves when predicate() holds; rejects on timeout, an init error, or when alive() is false. */
  wait(predicate, { timeoutMs = 60_000, what = 'a condition', alive = () => true } = {}) {
    return new Promise((resolve, reject) => {
      let timer;
      let poll;
      const check = () => {
        let failure = null;
        if (predicate()) failure = false;
        else if (this.initErrors.length) failure = new Error(`init error posted while waiting for ${what}: ${JSON.stringify(this.initErrors)}`);
        else if (!alive()) failure = new Error(`runtime process exited while waiting for ${what}`);
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

  async close() {
    for (const res of this.waiting) res.destroy();
    this.waiting = [];
    this.server.closeAllConnections?.();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
