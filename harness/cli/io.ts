/**
 * What a command may touch of the outside world. Only harness/bin/zoo.ts binds these to the
 * real process; tests run commands in-process with buffers.
 */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** Working directory for relative paths. */
  cwd: string;
}

/** Exit codes (ESLint's convention): 0 ok, 1 problems found (regression, invalid plugin), 2 bad input or crash. */
export const EXIT_OK = 0;
export const EXIT_PROBLEMS = 1;
export const EXIT_ERROR = 2;

export interface CommandContext {
  io: CliIo;
  /** Set by a command that found problems (exit 1) without throwing. */
  exitCode: number;
}

export function bufferIo(cwd = process.cwd()): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, cwd, out: (t) => stdout.push(t), err: (t) => stderr.push(t) };
}
