/**
 * Parsers for single environment values. Each returns the parsed value or throws a
 * `ConfigError` whose one-line message names the variable and what is wrong with it.
 */
import { isIpOrCidr } from '../auth/ip-rules.js';

export class ConfigError extends Error {
  constructor(readonly variable: string, problem: string) {
    super(`Invalid configuration: ${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

export function integer(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw.trim());
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(name, `must be a whole number from ${min} to ${max} (got "${raw}")`);
  }
  return value;
}

const SPAN = /^(\d+)\s*(s|m|h|d)?$/i;
const SPAN_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** Durations as jose and Duckling spell them: `3600`, `90s`, `15m`, `1h`, `7d`. Returns seconds. */
export function duration(name: string, raw: string | undefined, fallback: string): number {
  const text = (raw ?? fallback).trim();
  const match = SPAN.exec(text);
  if (!match || Number(match[1]) <= 0) {
    throw new ConfigError(name, `must be a positive duration such as 3600, 15m, 1h or 7d (got "${text}")`);
  }
  return Number(match[1]) * SPAN_SECONDS[(match[2] ?? 's').toLowerCase()]!;
}

/** The inverse of `duration`, in the largest whole unit: 604800 → "7d", 5400 → "90m". */
export function formatDuration(seconds: number): string {
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['m', 60]] as const) {
    if (seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}

const SIZE = /^(\d+)\s*(b|kb|mb|gb)?$/i;
const SIZE_BYTES: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** Byte sizes: `10485760`, `512kb`, `10mb`. */
export function byteSize(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw.trim() === '') return fallback;
  const match = SIZE.exec(raw.trim());
  const bytes = match ? Number(match[1]) * SIZE_BYTES[(match[2] ?? 'b').toLowerCase()]! : NaN;
  if (!Number.isSafeInteger(bytes) || bytes < 1024) {
    throw new ConfigError(name, `must be a size of at least 1kb such as 10mb (got "${raw}")`);
  }
  return bytes;
}

export function list(raw: string | undefined): string[] {
  return (raw ?? '').split(',').map((item) => item.trim()).filter((item) => item !== '');
}

/** IPs and CIDRs (IPv4 or IPv6). Returns the normalised entries; `*` only when `allowStar`. */
export function ipList(name: string, raw: string | undefined, allowStar: boolean): string[] {
  const entries = list(raw);
  for (const entry of entries) {
    if (entry === '*' && allowStar) continue;
    if (!isIpOrCidr(entry)) {
      throw new ConfigError(name, `has "${entry}", which is not an IP address or CIDR range`);
    }
  }
  return entries;
}

export function secretKey(name: string, raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (raw.trim() !== raw) throw new ConfigError(name, 'must not start or end with white space');
  if (raw.length < 16) throw new ConfigError(name, 'must be at least 16 characters long');
  return raw;
}

export function url(name: string, raw: string | undefined, protocols: string[]): string | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw.trim());
  } catch {
    throw new ConfigError(name, 'is not a valid URL');
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must start with ${protocols.map((p) => `${p}//`).join(' or ')}`);
  }
  return raw.trim();
}

export function oneOf<T extends string>(name: string, raw: string | undefined, allowed: readonly T[], fallback: T): T {
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `must be one of ${allowed.join(', ')} (got "${raw}")`);
  }
  return raw as T;
}
