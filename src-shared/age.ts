import { CacheError } from './errors';

/** The longest TTL or age a policy or prune takes: 100 years. */
export const MAX_AGE_SECONDS = 100 * 365 * 86_400;

const AGE_RE = /^([1-9][0-9]{0,9})([smhd])$/;
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** The seconds an AGE names, or null when it is none (the app asks before a TTL main would take). */
export function ageSeconds(text: string): number | null {
  const m = AGE_RE.exec(text.trim());
  const seconds = m ? Number(m[1]) * UNIT_SECONDS[m[2]!]! : NaN;
  return seconds <= MAX_AGE_SECONDS ? seconds : null;
}

/** `90s`, `12h`, `30d`: a whole number and one of s, m, h, d. */
export function parseAge(text: string): number {
  const seconds = ageSeconds(text);
  if (seconds === null) throw new CacheError('invalid_input', `${JSON.stringify(text.slice(0, 40))} is not an age: a whole number from 1 up, followed by s, m, h or d (90s, 12h, 30d), at most 100 years`);
  return seconds;
}

/** The shortest exact AGE for a number of seconds: 86400 -> "1d", 90 -> "90s". */
export function formatAge(seconds: number): string {
  for (const unit of ['d', 'h', 'm'] as const) if (seconds % UNIT_SECONDS[unit]! === 0) return `${seconds / UNIT_SECONDS[unit]!}${unit}`;
  return `${seconds}s`;
}
