'use strict';
// A minimal Lambda runtime loop for Node, standing in for AWS's runtime interface client in the
// end-to-end test (tests/e2e/test_node_runtime.mjs). It does what Lambda's Node.js runtime does
// for an async handler:
//
//   INIT:  load LAMBDA_TASK_ROOT/<module> named by _HANDLER ("handler.handler"); on failure
//          POST /runtime/init/error and exit.
//   loop:  GET /runtime/invocation/next -> call handler(event, context) -> await it ->
//          POST /runtime/invocation/{id}/response, or /error with {errorType, errorMessage, trace}.
//
// The context has awsRequestId, invokedFunctionArn, the function's names and
// getRemainingTimeInMillis() from the Lambda-Runtime-Deadline-Ms header.
//
// Callback-style handlers (event, context, callback) are not supported, as on Lambda's Node.js 24.
// The same tests also run the handler under AWS's client from npm, `aws-lambda-ric`;
// test_node_runtime.mjs picks the command in runtimeCommand().
const http = require('node:http');
const path = require('node:path');

const api = process.env.AWS_LAMBDA_RUNTIME_API;
const [host, port] = api.split(':');
const PREFIX = '/2018-06-01/runtime';

function request(method, urlPath, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(body);
    const req = http.request(
      {
        host,
        port: Number(port),
        method,
        path: PREFIX + urlPath,
        agent: false, // a fresh connection per call, as simple as it gets
        headers: data ? { 'Content-Type': 'application/json', 'Content-Length': data.length, ...headers } : headers,
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

function errorPayload(err) {
  const e = err instanceof Error ? err : new Error(String(err));
  return {
    errorType: e.name || 'Error',
    errorMessage: e.message,
    trace: String(e.stack || '').split('\n'),
  };
}

async function main() {
  const taskRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
  const [moduleName, fnName] = (process.env._HANDLER || 'handler.handler').split(/\.(?=[^.]+$)/);
  let handler;
  try {
    handler = require(path.resolve(taskRoot, moduleName))[fnName];
    if (typeof handler !== 'function') throw new Error(`${process.env._HANDLER} is not a function`);
  } catch (err) {
    const payload = errorPayload(err);
    await request('POST', '/init/error', JSON.stringify(payload), {
      'Lambda-Runtime-Function-Error-Type': 'Runtime.ImportModuleError',
    });
    process.exit(1);
  }

  for (;;) {
    const next = await request('GET', '/invocation/next');
    if (next.status !== 200) throw new Error(`GET next: HTTP ${next.status} ${next.body}`);
    const requestId = next.headers['lambda-runtime-aws-request-id'];
    const deadlineMs = Number(next.headers['lambda-runtime-deadline-ms']);
    if (next.headers['lambda-runtime-trace-id']) process.env._X_AMZN_TRACE_ID = next.headers['lambda-runtime-trace-id'];
    const context = {
      awsRequestId: requestId,
      invokedFunctionArn: next.headers['lambda-runtime-invoked-function-arn'],
      functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
      functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
      memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()),
    };
    let result;
    try {
      result = { ok: true, value: await handler(JSON.parse(next.body), context) };
    } catch (err) {
      result = { ok: false, error: err };
    }
    if (result.ok) {
      await request('POST', `/invocation/${requestId}/response`, JSON.stringify(result.value ?? null));
    } else {
      const payload = errorPayload(result.error);
      console.error(`Invoke Error ${JSON.stringify(payload)}`);
      await request('POST', `/invocation/${requestId}/error`, JSON.stringify(payload), {
        'Lambda-Runtime-Function-Error-Type': payload.errorType,
      });
    }
  }
}

main().catch((err) => {
  console.error('runtime loop failed:', err);
  process.exit(2);
});
