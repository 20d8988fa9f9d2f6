'use strict';
// Finds lanepool's native addon (napi-rs package layout).
//
// 1. The per-platform package that npm installed from the main package's optionalDependencies:
//    `@lanepool/linux-x64-gnu` or `@lanepool/linux-arm64-gnu` (npm installs only the one whose
//    os/cpu/libc match the machine).
// 2. Otherwise a local `lanepool.<platform>-<arch>[-<abi>].node` next to this file: a development
//    build made with `npm run build` (node build.js) in a source checkout.
//
// Exports the addon's module object (its interface: `Addon` below, from src/). Throws one error
// that lists what was tried.

/**
 * The addon's exports, as lib/ uses them (src/lib.rs, plan.rs, custom_keys.rs, batch.rs,
 * projected.rs).
 * @typedef {object} Addon
 * @property {() => { concurrency: number, deadlineMarginMs: number, retryBackoffMs: number, version: string }} defaults
 * @property {(n: number) => string | null} concurrencyError
 * @property {number} MAX_CONCURRENCY
 * @property {(name: string, ms: number) => string | null} millisError
 * @property {(kind: number, shown: string, ms: number) => number | string} remainingMs
 * @property {number} CONTEXT_ABSENT
 * @property {number} CONTEXT_NO_METHOD
 * @property {number} CONTEXT_NUMBER
 * @property {number} CONTEXT_OTHER
 * @property {(event: unknown, ordering: Ordering) => NativePlan | EventErrorInfo} decode
 * @property {(event: unknown) => unknown[] | EventErrorInfo} records
 * @property {(source: string, ordering: Ordering) => (number | string)[] | null} projection
 * @property {(source: string, ordering: Ordering, records: number, kinds: Uint8Array, slots: Float64Array, text: string, textLens: Uint32Array, groups: Float64Array | null) => NativePlan | null} decodeProjected
 * @property {(source: string, ordering: Ordering, records: number, values: Float64Array, text: string, textLens: Uint32Array, groups: Float64Array | null) => NativePlan | null} decodeRead
 * @property {Function & { prototype: NativePlan }} Plan
 * @property {new (slots: number) => NativeLimit} Limit
 * @property {number} STEP_DONE
 * @property {number} STEP_WAIT
 * @property {number} STEP_WAIT_FOR
 * @property {number} STEP_MORE
 * @property {number} ENDED_STRIDE
 * @property {number} ENDED_OK
 * @property {number} ENDED_ERR
 * @property {number} ENDED_DEADLINE
 * @property {number} ENDED_TIMEOUT
 * @property {number} ENDED_UNSTARTED
 * @property {(n: number) => NativePlan} jobsPlan the plan of n jobs (src/jobs.rs)
 * @property {(perSecond: number) => string | null} rateError
 * @property {(plan: NativePlan, concurrency: number, retries: number, backoffMs: number, remainingMs: number, marginMs: number, attemptTimeoutMs: number, maxPerSecond: number, allFailedRule: boolean) => NativeBatch} startBatch
 * @property {number} K_UNDEFINED
 * @property {number} K_NULL
 * @property {number} K_BOOLEAN
 * @property {number} K_NUMBER
 * @property {number} K_STRING
 * @property {number} K_ARRAY
 * @property {number} K_OBJECT
 * @property {number} K_FUNCTION
 * @property {number} K_BIGINT
 * @property {number} K_SYMBOL
 * @property {number} MODE_SHAPE
 * @property {number} MODE_TEXT
 * @property {number} MODE_KEPT
 * @property {number} MODE_NUMBER
 * @property {number} V_ABSENT
 * @property {number} V_NULL
 * @property {number} V_OTHER
 * @property {number} V_KEPT
 * @property {number} V_KEPT_EMPTY
 */
/** @typedef {'auto' | 'unordered' | 'key'} Ordering */
/** @typedef {{ message: string, index?: number | null, field?: string | null, group?: string | null }} EventErrorInfo */
/**
 * A record's identifier as Lambda names it: a string, or a Kafka record's object.
 * @typedef {string | { partition: string, offset: number }} Identifier
 */
/**
 * A decoded event (src/plan.rs).
 * @typedef {object} NativePlan
 * @property {number} length
 * @property {boolean} grouped whether the records are a Kafka event's `records` groups
 * @property {(records: unknown[], groupKey: (record: any) => unknown) => EventErrorInfo | null | undefined} setKeysFrom
 * @property {(concurrency: number, retries: number, backoffMs: number, remainingMs: number, marginMs: number) => NativeBatch} start
 */
/**
 * A running batch (src/batch.rs).
 * @typedef {object} NativeBatch
 * @property {(io: Float64Array, ended: number, limit: number) => number} drive
 * @property {() => boolean} deadlinePassed
 * @property {() => number} timeToDeadline
 * @property {() => number[]} timedOut records whose attempt ran past the attempt timeout
 * @property {(full: boolean, log: boolean, kept: unknown[] | null) => FinishInfo} finish
 * @property {(limit: NativeLimit) => number} join joins the pool's limit; the call's id
 * @property {() => void} close ends the batch without a report, giving back its slots
 */
/**
 * A pool's shared in-flight limit (src/limit.rs).
 * @typedef {object} NativeLimit
 * @property {number} slots
 * @property {number} inFlight
 * @property {number} calls
 * @property {() => number[]} takeWoken ids of the calls slots were handed to
 */
/**
 * @typedef {object} FinishInfo
 * @property {string | null} [allFailed]
 * @property {Identifier[]} batchItemFailures
 * @property {{ itemIdentifier: Identifier, index: number, reason: string, attempts: number }[] | null} [failures]
 * @property {Identifier[] | null} [succeeded]
 * @property {Record<string, number | string | null> | null} [summary]
 * @property {string | null} [logLine]
 */

const { platform, arch } = process;

/**
 * Prebuilt packages per `${platform}-${arch}`, in the order tried.
 * @type {Record<string, string[] | undefined>}
 */
const PACKAGES = {
  'linux-x64': ['@lanepool/linux-x64-gnu'],
  'linux-arm64': ['@lanepool/linux-arm64-gnu'],
};

/** @returns {string | null} */
function ownVersion() {
  try {
    return require('./package.json').version;
  } catch {
    return null;
  }
}

/**
 * Whether `e` says that `name` itself was not found (not something it requires).
 * @param {any} e
 * @param {string} name
 * @returns {boolean}
 */
function notFound(e, name) {
  return (
    e &&
    e.code === 'MODULE_NOT_FOUND' &&
    typeof e.message === 'string' &&
    e.message.includes(name)
  );
}

/** @returns {Addon} */
function load() {
  /** @type {string[]} */
  const tried = [];
  /** @type {string[]} */
  const failures = [];

  for (const pkg of PACKAGES[`${platform}-${arch}`] || []) {
    let addon;
    try {
      addon = require(pkg);
    } catch (e) {
      if (notFound(e, pkg)) {
        tried.push(`${pkg} (not installed)`);
        continue;
      }
      failures.push(`${pkg}: ${/** @type {any} */ (e)?.message}`);
      continue;
    }
    // The addon says which version it was built as (reading the platform package's
    // package.json would cost a second package lookup on every cold start).
    const want = ownVersion();
    const have = typeof addon.defaults === 'function' ? addon.defaults().version : null;
    if (want && have && want !== have && !process.env.LANEPOOL_ALLOW_VERSION_MISMATCH) {
      throw new Error(
        `lanepool: ${pkg} is version ${have} but lanepool is ${want}; ` +
          'reinstall so both come from the same release (npm install lanepool)',
      );
    }
    return addon;
  }

  const abis =
    platform === 'linux' ? ['-gnu', '-musl'] : platform === 'win32' ? ['-msvc', ''] : [''];
  for (const abi of abis) {
    const file = `./lanepool.${platform}-${arch}${abi}.node`;
    try {
      return require(file);
    } catch (e) {
      if (notFound(e, file.slice(2))) {
        tried.push(`${file} (no development build)`);
        continue;
      }
      failures.push(`${file}: ${/** @type {any} */ (e)?.message}`);
    }
  }

  const prebuilt = Object.keys(PACKAGES).join(', ');
  const lines = [
    `lanepool: no usable native addon for ${platform}-${arch}.`,
    `Prebuilt: ${prebuilt} with glibc 2.17 or newer (Amazon Linux 2 and 2023, Debian, Ubuntu, RHEL 7+),` +
      ' as optional dependencies of lanepool.',
  ];
  if (PACKAGES[`${platform}-${arch}`]) {
    lines.push(
      'The prebuilt package was not installed: install without --omit=optional / --no-optional, ' +
        'and install on the target platform (for a Lambda arm64 bundle made elsewhere: ' +
        'npm install --os=linux --cpu=arm64 lanepool).',
    );
  } else {
    lines.push('Elsewhere, build from a source checkout: `npm run build` in bindings-node (needs Rust and cargo).');
  }
  if (failures.length) lines.push(`Failed to load: ${failures.join('; ')}`);
  lines.push(`Tried: ${tried.concat(failures.map((f) => f.split(':')[0])).join(', ')}`);
  throw new Error(lines.join('\n'));
}

module.exports = load();
