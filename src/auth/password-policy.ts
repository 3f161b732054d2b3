/** What an admin password must be, apart from how it is hashed (`passwords.ts`). */

/** ASVS 2.1.1: at least 12 characters. */
export const MIN_PASSWORD_LENGTH = 12;
/** ASVS 2.1.2 asks that 64 work; beyond this a login is refused before any hashing. */
export const MAX_PASSWORD_LENGTH = 1024;

/** Why `password` cannot be an admin password, or undefined when it can. */
export function passwordProblem(password: string): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH) return `must be at least ${MIN_PASSWORD_LENGTH} characters long`;
  if (password.length > MAX_PASSWORD_LENGTH) return `must be at most ${MAX_PASSWORD_LENGTH} characters long`;
  return undefined;
}
