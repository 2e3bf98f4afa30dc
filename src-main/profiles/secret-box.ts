/** Encrypts secrets at rest with the OS keyring (Electron's safeStorage), when there is one. */
export interface SecretBox {
  /** `available` is false where encryption would not protect anything (no keyring, Linux `basic_text`). */
  status(): { available: boolean; backend: string | null };
  encrypt(plain: string): string;
  decrypt(sealed: string): string;
}

/** Outside Electron (CLI, bridge) there is no keyring to encrypt with. */
export const NO_KEYRING: SecretBox = {
  status: () => ({ available: false, backend: null }),
  encrypt: () => {
    throw new Error('no keyring');
  },
  decrypt: () => {
    throw new Error('no keyring');
  },
};
