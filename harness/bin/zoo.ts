#!/usr/bin/env node
/** The only module that touches the process: argv in, exit code out. */
import { runCli } from '../cli/main.js';

const code = await runCli(process.argv.slice(2), {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
  cwd: process.cwd(),
});
process.exitCode = code;
