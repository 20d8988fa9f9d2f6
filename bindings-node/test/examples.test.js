'use strict';
// The documentation's code runs: every JavaScript block of README.md and every JSDoc `@example`
// of the package's sources is run as the body of an async function (so it may `await`), with
// `require` resolving from the package (`require('lanepool')` is this checkout). A block that
// throws or rejects fails its test. A README block that exports a Lambda `handler` is then
// invoked with a small SQS event and a Lambda-like context, except where SKIP_INVOKE says why
// not. Every class and function the package exports must carry an example.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { createRequire } = require('node:module');

const ROOT = path.join(__dirname, '..');
const SOURCES = [
  'index.js',
  ...fs.readdirSync(path.join(ROOT, 'lib')).filter((f) => f.endsWith('.js')).map((f) => `lib/${f}`),
  'powertools.js',
  'powertools-factory.js',
];

/** README blocks (by a line they hold) whose exported handler is not invoked, and why. */
const SKIP_INVOKE = new Map([
  ['https://orders.internal/', 'its records are POSTed to an internal HTTP service that only exists in the Lambda deployment'],
]);

const AsyncFunction = (async () => {}).constructor;

/** `{ name, code }` for each ```js / ```javascript block of a Markdown file. */
function markdownBlocks(file) {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  const blocks = [];
  const fence = /^```(js|javascript)\n([\s\S]*?)^```$/gm;
  for (let m; (m = fence.exec(text)) !== null; ) {
    const line = text.slice(0, m.index).split('\n').length;
    blocks.push({ name: `${file}:${line}`, code: m[2] });
  }
  return blocks;
}

/** `{ name, code }` for each `@example` of the JSDoc comments of a source file. */
function jsdocExamples(file) {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  const examples = [];
  const comment = /\/\*\*([\s\S]*?)\*\//g;
  for (let m; (m = comment.exec(text)) !== null; ) {
    const lines = m[1].split('\n').map((l) => l.replace(/^\s*\* ?/, ''));
    for (let i = 0; i < lines.length; i++) {
      if (!/^@example\b/.test(lines[i])) continue;
      const body = [];
      for (i++; i < lines.length && !/^@\w+/.test(lines[i]); i++) body.push(lines[i]);
      i--;
      const line = text.slice(0, m.index).split('\n').length;
      examples.push({ name: `${file}:${line}`, code: body.join('\n') });
    }
  }
  return examples;
}

/** Runs `code` as an async function body; resolves to its module's exports. */
async function run(code) {
  const module = { exports: {} };
  const requireFromPackage = createRequire(path.join(ROOT, 'examples.js'));
  await new AsyncFunction('require', 'module', 'exports', code)(requireFromPackage, module, module.exports);
  return module.exports;
}

const sqsEvent = {
  Records: ['r1', 'r2'].map((id) => ({ eventSource: 'aws:sqs', messageId: id, body: JSON.stringify({ id }) })),
};
const lambdaContext = { awsRequestId: 'example', getRemainingTimeInMillis: () => 60_000 };

for (const block of markdownBlocks('README.md')) {
  test(`README block ${block.name} runs`, async (t) => {
    const exported = await run(block.code);
    if (typeof exported.handler !== 'function') return;
    const skip = [...SKIP_INVOKE].find(([line]) => block.code.includes(line));
    if (skip) {
      t.skip(`the block ran; its handler is not invoked: ${skip[1]}`);
      return;
    }
    const response = await exported.handler(sqsEvent, lambdaContext);
    assert.deepEqual(response, { batchItemFailures: [] });
  });
}

const examples = SOURCES.flatMap(jsdocExamples);
for (const example of examples) {
  test(`JSDoc @example at ${example.name} runs`, async () => {
    await run(example.code);
  });
}

test('the README and the sources hold examples, and a failing one fails', async () => {
  assert.ok(markdownBlocks('README.md').length >= 4);
  assert.ok(examples.length >= 8);
  await assert.rejects(run("require('node:assert').equal(1, 2);"));
  await assert.rejects(run("await require('lanepool').DEFAULT_CONCURRENCY.no.such;"));
});

test('every class and function the package exports has a JSDoc @example', () => {
  const exported = [
    ...Object.entries(require('lanepool')),
    ...Object.entries(require('lanepool/powertools')),
  ].filter(([, v]) => typeof v === 'function');
  const sources = SOURCES.map((f) => fs.readFileSync(path.join(ROOT, f), 'utf8'));
  const missing = [];
  for (const [name] of exported) {
    const definition = new RegExp(`/\\*\\*((?:(?!\\*/)[\\s\\S])*)\\*/\\s*(?:class|function) ${name}\\b`);
    const doc = sources.map((s) => s.match(definition)).find((m) => m !== null);
    if (!doc || !doc[1].includes('@example')) missing.push(name);
  }
  assert.deepEqual(missing, []);
});
