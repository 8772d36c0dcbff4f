#!/usr/bin/env node
/** The only module that touches the process: argv in, exit code out. */
import { runCli } from '../cli/main.js';

// `zoo … | head` closes the pipe early: that is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

// A command that asks for it (zoo bench) gets the first Ctrl-C as a request to stop cleanly:
// it cancels its jobs and commits nothing half-written. Otherwise, and on a second Ctrl-C, stop at once.
const interrupt = new AbortController();
let interruptible = false;
process.on('SIGINT', () => {
  if (!interruptible || interrupt.signal.aborted) process.exit(130);
  process.stderr.write('\nstopping cleanly (Ctrl-C again to stop at once)…\n');
  interrupt.abort();
});

const code = await runCli(process.argv.slice(2), {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
  cwd: process.cwd(),
  interruptible: () => {
    interruptible = true;
    return interrupt.signal;
  },
});
process.exitCode = code;
