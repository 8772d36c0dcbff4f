/**
 * What a command may touch of the outside world. Only harness/bin/zoo.ts binds these to the
 * real process; tests run commands in-process with buffers.
 */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** Working directory for relative paths. */
  cwd: string;
  /**
   * Opts the command in to a clean stop on Ctrl-C (SIGINT): the returned signal aborts on the
   * first Ctrl-C instead of the process dying there. Commands that never call it die at once.
   */
  interruptible?: () => AbortSignal;
}

/** Exit codes (ESLint's convention): 0 ok, 1 problems found (regression, invalid plugin), 2 bad input or crash. */
export const EXIT_OK = 0;
export const EXIT_PROBLEMS = 1;
export const EXIT_ERROR = 2;
/** Stopped by Ctrl-C (128 + SIGINT, the shell's convention). */
export const EXIT_INTERRUPTED = 130;

export interface CommandContext {
  io: CliIo;
  /** The arguments the command was run with (after `zoo`), e.g. to say which command resumes it. */
  argv?: readonly string[];
  /** Set by a command that found problems (exit 1) without throwing. */
  exitCode: number;
}

/** `zoo ARGS` as a shell command line (arguments quoted where a shell would split or expand them). */
export function commandLine(argv: readonly string[] = []): string {
  const quote = (a: string): string => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return ['zoo', ...argv.map(quote)].join(' ');
}

export function bufferIo(cwd = process.cwd()): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, cwd, out: (t) => stdout.push(t), err: (t) => stderr.push(t) };
}
