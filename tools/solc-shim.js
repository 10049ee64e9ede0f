#!/usr/bin/env node
// A `solc` command line for py-solc-x and ape-solidity, backed by solc-js (npm `solc`).
// Why: no native solc can be downloaded here. solc-js's own CLI rejects `--allow-paths` and prints an
// SMT notice before its JSON, so we drive the compiler through its JS API instead: `--version` and
// `--standard-json` are all the callers need. Import paths resolve against --base-path, every
// --include-path and the repo's node_modules, read from disk on demand.
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require(path.join(__dirname, '..', 'node_modules', 'solc'));

function parseArgs(argv) {
  const opts = { version: false, standardJson: false, roots: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--version' || a === '-v') opts.version = true;
    else if (a === '--standard-json') opts.standardJson = true;
    else if (a === '--base-path' || a === '--include-path') opts.roots.push(argv[++i]);
    else if (a === '--allow-paths') i++; // solc-js has no file access policy: reads go through us
    else if (a.startsWith('--allow-paths=')) { /* ignored, as above */ }
    else if (a.startsWith('--base-path=') || a.startsWith('--include-path=')) opts.roots.push(a.split('=')[1]);
  }
  opts.roots.push(process.cwd(), path.join(__dirname, '..', 'node_modules'), path.join(__dirname, '..'));
  return opts;
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.version) {
    // Same shape as native solc, which py-solc-x parses with a regex.
    process.stdout.write('solc, the solidity compiler commandline interface\nVersion: ' + solc.version() + '\n');
    return 0;
  }
  if (!opts.standardJson) {
    process.stderr.write('solc-shim: only --version and --standard-json are supported\n');
    return 2;
  }
  const input = fs.readFileSync(0, 'utf8');
  const findImports = (p) => {
    for (const root of opts.roots) {
      const full = path.isAbsolute(p) ? p : path.join(root, p);
      if (fs.existsSync(full) && fs.statSync(full).isFile()) return { contents: fs.readFileSync(full, 'utf8') };
    }
    return { error: 'File not found: ' + p };
  };
  process.stdout.write(solc.compile(input, { import: findImports }));
  return 0;
}

process.exitCode = main();
