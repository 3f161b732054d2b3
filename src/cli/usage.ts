/**
 * Usage mistakes on the command line: one line saying what is wrong and what was probably meant,
 * the command's help pointer, and exit code 2 (never Node's parser text or a stack trace).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {
  override name = 'UsageError';
  /** `keys`, `admin`...: the help to point at. */
  constructor(message: string, readonly command?: string) {
    super(message);
  }
}

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** Strict parsing of `args` against `options`, with unknown options named and a near one suggested. */
export function parseOptions<T extends OptionSpec>(command: string, args: string[], options: T): ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>> {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const given = /'([^']+)'/.exec((error as Error).message)?.[1] ?? '';
      const name = given.replace(/^-+/, '').split('=')[0]!;
      const near = suggest(name, Object.keys(options));
      throw new UsageError(`unknown option ${given.startsWith('-') ? given : `--${name}`}${near ? ` (did you mean --${near}?)` : ''}`, command);
    }
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      throw new UsageError((error as Error).message.replace(/^Option '(-\w, )?(--[\w-]+)[^']*' argument missing$/, '$2 needs a value'), command);
    }
    throw error;
  }
}

/** The candidate closest to `word` (at most 2 edits, a swap of neighbours counting as one; or a prefix), if any. */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = candidate.startsWith(word) && word.length >= 2 ? 1 : levenshtein(word.toLowerCase(), candidate.toLowerCase());
    if (distance <= Math.min(2, Math.max(1, Math.floor(candidate.length / 3))) && (!best || distance < best.distance)) best = { candidate, distance };
  }
  return best?.candidate;
}

/** Edit distance with adjacent transpositions (optimal string alignment): `lable` is one edit from `label`. */
function levenshtein(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}
