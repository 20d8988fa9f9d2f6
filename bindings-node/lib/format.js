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

module.exports = { format };
