'use strict';
// Finds lanepool's native addon (napi-rs package layout).
//
// 1. The per-platform package that npm installed from the main package's optionalDependencies:
//    `@lanepool/linux-x64-gnu` or `@lanepool/linux-arm64-gnu` (npm installs only the one whose
//    os/cpu/libc match the machine).
// 2. Otherwise a local `lanepool.<platform>-<arch>[-<abi>].node` next to this file: a development
//    build made with `npm run build` (node build.js) in a source checkout.
//
// Exports the addon's module object. Throws one error that lists what was tried.

const { platform, arch } = process;

/** Prebuilt packages per `${platform}-${arch}`, in the order tried. */
const PACKAGES = {
  'linux-x64': ['@lanepool/linux-x64-gnu'],
  'linux-arm64': ['@lanepool/linux-arm64-gnu'],
};

function ownVersion() {
  try {
    return require('./package.json').version;
  } catch {
    return null;
  }
}

function notFound(e, name) {
  return (
    e &&
    e.code === 'MODULE_NOT_FOUND' &&
    typeof e.message === 'string' &&
    e.message.includes(name)
  );
}

function load() {
  const tried = [];
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
      failures.push(`${pkg}: ${e && e.message}`);
      continue;
    }
    const want = ownVersion();
    let have = null;
    try {
      have = require(`${pkg}/package.json`).version;
    } catch {
      // an unusual install (bundled, no package.json): trust the addon
    }
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
      failures.push(`${file}: ${e && e.message}`);
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
