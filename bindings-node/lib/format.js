'use strict';
// Showing any value in an error message without ever throwing.

/**
 * A value as a string, never throwing: `String(x)`, else `Object.prototype.toString`, else
 * '<unprintable error>' (a revoked Proxy, a `toString` or `Symbol.toPrimitive` that throws).
 * @param {unknown} x
 * @returns {string}
 */
function format(x) {
  try {
    return String(x);
  } catch {
    // fall through
  }
  try {
    return Object.prototype.toString.call(x);
  } catch {
    return '<unprintable error>';
  }
}

/**
 * A value with its type, for "got ..." in a message, never throwing: `string '4'`,
 * `boolean true`, `bigint 4n`, `undefined`, `null`, `function f`, an object as its
 * constructor's name and first keys (`Object {functionName, awsRequestId}`), else `format`.
 * @param {unknown} x
 * @returns {string}
 */
function describe(x) {
  switch (typeof x) {
    case 'string':
      return `string '${x.length > 40 ? `${x.slice(0, 40)}…` : x}'`;
    case 'boolean':
      return `boolean ${x}`;
    case 'bigint':
      return `bigint ${x}n`;
    case 'undefined':
      return 'undefined';
    case 'function':
      return `function ${x.name || '(anonymous)'}`;
    case 'object':
      if (x === null) return 'null';
      try {
        const name = Object.getPrototypeOf(x)?.constructor?.name || 'object';
        const keys = Object.keys(x);
        const shown = keys.slice(0, 4).join(', ') + (keys.length > 4 ? ', …' : '');
        return `${name} {${shown}}`;
      } catch {
        return format(x);
      }
    default:
      return format(x);
  }
}

module.exports = { format, describe };
